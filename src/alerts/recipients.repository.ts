import type { Db } from '../platform/db.ts';
import { preferencesSchema, DEFAULT_PREFERENCES, type AlertPreferences } from './preferences.ts';

export interface Recipient {
  userId: string;
  email: string;
  displayName: string;
  role: string;
  prefs: AlertPreferences;
}

type Row = { id: string; email: string; display_name: string; role: string; prefs: unknown };

const toRecipient = (r: Row): Recipient => {
  const parsed = preferencesSchema.safeParse(r.prefs ?? {});
  return { userId: r.id, email: r.email, displayName: r.display_name, role: r.role, prefs: parsed.success ? parsed.data : DEFAULT_PREFERENCES };
};

const SELECT = `SELECT u.id, u.email, u.display_name, u.role, p.prefs FROM users u LEFT JOIN alert_preferences p ON p.user_id = u.id`;

/** SQL for who gets told about alerts (users, care teams, preferences), and nothing else. */
export function createRecipientsRepository(db: Db) {
  return {
    async careTeamUsers(patientId: string): Promise<Recipient[]> {
      return (
        await db.query<Row>(
          `${SELECT} JOIN care_team_members c ON c.practitioner_id = u.practitioner_id WHERE c.patient_id = $1 AND u.disabled_at IS NULL ORDER BY u.email`,
          [patientId],
        )
      ).map(toRecipient);
    },
    async admins(): Promise<Recipient[]> {
      return (await db.query<Row>(`${SELECT} WHERE u.role = 'admin' AND u.password_hash IS NOT NULL AND u.disabled_at IS NULL ORDER BY u.email`)).map(
        toRecipient,
      );
    },
    /**
     * F8: a named person may hear about a patient's alert only when they may see the patient: an enabled admin,
     * or an enabled clinician on the patient's care team.
     */
    async mayReceive(userId: string, patientId: string): Promise<boolean> {
      const rows = await db.query(
        `SELECT 1 FROM users u WHERE u.id = $1 AND u.disabled_at IS NULL AND (u.role = 'admin' OR EXISTS (
           SELECT 1 FROM care_team_members c WHERE c.practitioner_id = u.practitioner_id AND c.patient_id = $2))`,
        [userId, patientId],
      );
      return rows.length > 0;
    },
    async byId(userId: string): Promise<Recipient | null> {
      const [r] = await db.query<Row>(`${SELECT} WHERE u.id = $1`, [userId]);
      return r ? toRecipient(r) : null;
    },
    async savePreferences(userId: string, prefs: AlertPreferences): Promise<void> {
      await db.query(
        `INSERT INTO alert_preferences (user_id, prefs, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (user_id) DO UPDATE SET prefs = EXCLUDED.prefs, updated_at = now()`,
        [userId, JSON.stringify(prefs)],
      );
    },
  };
}

export type RecipientsRepository = ReturnType<typeof createRecipientsRepository>;
