import { AppError } from '../platform/errors.ts';
import type { RecipientsRepository } from './recipients.repository.ts';
import { DEFAULT_PREFERENCES, preferencesSchema, pushSubscriptionSchema, type AlertPreferences } from './preferences.ts';

const MAX_SUBSCRIPTIONS = 10; // browsers per user; the oldest is dropped beyond this

/** A user's own notification preferences and Web Push subscriptions (validated with zod). */
export function createPreferencesService(deps: { recipients: RecipientsRepository }) {
  const current = async (userId: string): Promise<AlertPreferences> => (await deps.recipients.byId(userId))?.prefs ?? DEFAULT_PREFERENCES;
  const invalid = (issues: Array<{ path: PropertyKey[]; message: string }>) =>
    new AppError('VALIDATION', `${issues[0]?.path.join('.') || 'body'}: ${issues[0]?.message ?? 'invalid'}`);

  return {
    get: current,
    /** Replaces severities, channels and quiet hours; subscriptions are kept (they have their own routes). */
    async update(userId: string, body: unknown): Promise<AlertPreferences> {
      const parsed = preferencesSchema.omit({ pushSubscriptions: true }).safeParse(body ?? {});
      if (!parsed.success) throw invalid(parsed.error.issues);
      const prefs = { ...parsed.data, pushSubscriptions: (await current(userId)).pushSubscriptions };
      await deps.recipients.savePreferences(userId, prefs);
      return prefs;
    },
    /** Adds (or refreshes) a browser's subscription and switches the Web Push channel on. */
    async subscribe(userId: string, body: unknown): Promise<AlertPreferences> {
      const parsed = pushSubscriptionSchema.safeParse(body);
      if (!parsed.success) throw invalid(parsed.error.issues);
      const prefs = await current(userId);
      const subs = [...prefs.pushSubscriptions.filter((s) => s.endpoint !== parsed.data.endpoint), parsed.data].slice(-MAX_SUBSCRIPTIONS);
      const next = { ...prefs, channels: { ...prefs.channels, webpush: true }, pushSubscriptions: subs };
      await deps.recipients.savePreferences(userId, next);
      return next;
    },
    async unsubscribe(userId: string, endpoint: string): Promise<AlertPreferences> {
      const prefs = await current(userId);
      const next = { ...prefs, pushSubscriptions: prefs.pushSubscriptions.filter((s) => s.endpoint !== endpoint) };
      await deps.recipients.savePreferences(userId, next);
      return next;
    },
  };
}

export type PreferencesService = ReturnType<typeof createPreferencesService>;
