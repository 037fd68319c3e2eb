import type { Db } from '../platform/db.ts';
import type { EventBus } from '../platform/events.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { PatientsRepository } from '../store/patients.repository.ts';
import type { DevicesRepository } from '../store/devices.repository.ts';
import type { AlertsConfig } from './alerts.config.ts';
import { createAlertsRepository } from './alerts.repository.ts';
import { createRulesRepository } from './rules.repository.ts';
import { createRecipientsRepository } from './recipients.repository.ts';
import { createNotificationsRepository, type JobChannel } from './notifications.repository.ts';
import { createRulesService } from './rules.service.ts';
import { createPreferencesService } from './preferences.service.ts';
import { createAlertService } from './alert.service.ts';
import { createAlertMonitor } from './alert-monitor.ts';
import type { Ownership } from '../cluster/ownership.ts';
import { createDeliveryWorker, type ChannelSender } from './delivery/delivery.worker.ts';
import { createEmailChannel } from './delivery/email.channel.ts';
import { createWebhookChannel } from './delivery/webhook.channel.ts';
import { createWebPushChannel, loadVapidKeys, type VapidKeys } from './delivery/webpush.channel.ts';

/**
 * Builds the alerts module from what it uses: repositories, rules, the alert service, the monitor that
 * feeds the rule engine from the bus, and the outbox delivery worker. Nothing runs until `start()`.
 */
export function createAlertsModule(deps: {
  db: Db;
  events: EventBus;
  clock: Clock;
  logger: Logger;
  access: AccessPolicy;
  audit: AuditService;
  patients: PatientsRepository;
  devices: DevicesRepository;
  config: AlertsConfig;
  /** Several instances: who evaluates which patient (cluster/ownership.ts). */
  ownership?: Ownership;
  /** Several instances: called back when events from other instances may have been missed. */
  onResync?: (fn: () => void) => void;
}) {
  const repos = {
    alerts: createAlertsRepository(deps.db),
    rules: createRulesRepository(deps.db),
    recipients: createRecipientsRepository(deps.db),
    outbox: createNotificationsRepository(deps.db),
  };
  let appUrl: () => string = () => 'http://localhost';
  let vapid: VapidKeys | null = null;
  const rules = createRulesService({
    rules: repos.rules,
    access: deps.access,
    audit: deps.audit,
    clock: deps.clock,
    spo2ScaleOf: async (patientId) => ((await deps.patients.byId(patientId))?.settings.spo2Scale === 2 ? 2 : 1),
  });
  const channels: Partial<Record<JobChannel, ChannelSender>> = {};
  const email = deps.config.smtpUrl ? createEmailChannel({ smtpUrl: deps.config.smtpUrl, from: deps.config.emailFrom }) : null;
  if (email) channels.email = email;
  if (deps.config.webhookSecret) channels.webhook = createWebhookChannel({ secret: deps.config.webhookSecret, now: () => deps.clock.now() });
  const worker = createDeliveryWorker({ outbox: repos.outbox, channels, config: deps.config, clock: deps.clock, logger: deps.logger });
  const service = createAlertService({
    db: deps.db,
    alerts: repos.alerts,
    outbox: repos.outbox,
    recipients: repos.recipients,
    patients: deps.patients,
    rules,
    access: deps.access,
    audit: deps.audit,
    events: deps.events,
    clock: deps.clock,
    logger: deps.logger,
    config: deps.config,
    appUrl: () => appUrl(),
    webpushReady: () => vapid !== null,
    onQueued: () => worker.nudge(),
  });
  const monitor = createAlertMonitor({
    events: deps.events,
    alerts: service,
    rules,
    devices: deps.devices,
    newestReadings: (patientIds) => repos.alerts.newestReadings(patientIds),
    recent: {
      readings: (since, codes, limit, patientIds) => repos.alerts.recentReadings(since, codes, limit, patientIds),
      patients: (since, codes) => repos.alerts.recentPatients(since, codes),
    },
    resolvedSince: (since) => repos.alerts.resolvedSince(since),
    clock: deps.clock,
    logger: deps.logger,
    tickMs: deps.config.tickMs,
    backlogMax: deps.config.backlogMax,
    ownership: deps.ownership,
  });
  deps.onResync?.(() => void service.reload().catch((err) => deps.logger.error({ err }, 'could not reload open alerts')));
  let started = false;

  const preferences = createPreferencesService({ recipients: repos.recipients });

  return {
    service,
    rules,
    preferences,
    monitor,
    worker,
    repos,
    /** Loads rules (seeding clinic defaults), open alerts and engine state, then starts ticking and delivering. */
    /** The VAPID public key browsers subscribe with (null when Web Push is off: no data dir). */
    pushPublicKey: () => vapid?.publicKey ?? null,
    async start(opts: { appUrl: () => string; dataDir?: string }) {
      appUrl = opts.appUrl;
      if (opts.dataDir) {
        vapid = await loadVapidKeys(opts.dataDir);
        channels.webpush = createWebPushChannel({
          keys: vapid,
          subject: `mailto:${deps.config.emailFrom.match(/<([^>]+)>/)?.[1] ?? 'alerts@vigil.local'}`,
          now: () => deps.clock.now(),
        });
      }
      await rules.start();
      await service.start();
      await monitor.start();
      worker.start();
      started = true;
    },
    async close() {
      if (!started) return;
      await rules.close();
      await monitor.close();
      await worker.close();
      email?.close();
    },
  };
}

export type AlertsModule = ReturnType<typeof createAlertsModule>;
