import type { EventBus } from '../platform/events.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { ReadingsRepository } from '../store/readings.repository.ts';
import type { IngestService } from '../ingest/ingest.service.ts';
import type { StoredReading } from '../domain/types.ts';
import { DERIVED_CODES } from '../domain/codes.ts';
import { computeCgmMetrics, sensorIntervalMin } from '../analysis/cgm/index.ts';
import { soleOwnership, type Ownership } from '../cluster/ownership.ts';

const DAY_MS = 86_400_000;
const GLUCOSE = '2339-0';
const MIN_ACTIVE_PERCENT = 70; // Battelino 2019: a day with less than 70 % of readings is not summarised
export const CGM_DAILY_ALGORITHM = { name: 'cgm-consensus-2019-daily', version: '1.0.0' } as const;

/**
 * Once per patient and (UTC) day, when glucose arrives, stores the previous day's time in range as a
 * derived Observation (LOINC 97510-2), stamped at that day's start with the consensus algorithm.
 */
export function createCgmDailySummaries(deps: {
  events: EventBus;
  repos: { readings: ReadingsRepository };
  ingest: Pick<IngestService, 'storeDerived'>;
  clock: Clock;
  logger: Logger;
  /** Several instances: the patient's owner summarises (cluster/ownership.ts); the unique index backs it up. */
  ownership?: Ownership;
}) {
  const log = deps.logger.child({ module: 'cgm-daily' });
  const ownership = deps.ownership ?? soleOwnership('local');
  const done = new Map<string, number>(); // patient → day start already summarised

  async function summarise(patientId: string, dayStart: number) {
    if (!(await ownership.owns(patientId))) return;
    const end = dayStart + DAY_MS;
    const existing = await deps.repos.readings.range(patientId, DERIVED_CODES.cgmTir.code, dayStart, dayStart);
    if (existing.some((r) => r.method?.name === CGM_DAILY_ALGORITHM.name)) return;
    const glucose = await deps.repos.readings.range(patientId, GLUCOSE, dayStart, end - 1);
    const day = glucose.map((g) => ({ ts: g.ts, mgdl: g.value }));
    const metrics = computeCgmMetrics(day, { start: dayStart, end, intervalMin: sensorIntervalMin(day) });
    if (!metrics || metrics.activePercent < MIN_ACTIVE_PERCENT) return;
    // A unique index (migration 011) makes the summary once per patient and day whichever instance writes it:
    // losing that race (23505) means another instance stored it, which is success.
    await deps.ingest
      .storeDerived([
        {
          patientId,
          deviceId: null,
          system: DERIVED_CODES.cgmTir.system,
          code: DERIVED_CODES.cgmTir.code,
          value: Math.round(metrics.tir * 10) / 10,
          unit: '%',
          ts: dayStart,
          seq: null,
          method: { ...CGM_DAILY_ALGORITHM },
        },
      ])
      .catch((err) => {
        if ((err as { code?: string }).code !== '23505') throw err;
      });
  }

  let prunedAt = 0;
  const off = deps.events.on('readings.stored', (readings: StoredReading[]) => {
    // Days already summarised older than two days can never be asked for again: forget them (memory).
    const now = deps.clock.now();
    if (now - prunedAt > 3_600_000) {
      prunedAt = now;
      const cutoff = Math.floor(now / DAY_MS) * DAY_MS - 2 * DAY_MS;
      for (const [id, day] of done) if (day < cutoff) done.delete(id);
    }
    for (const r of readings) {
      if (r.code !== GLUCOSE || r.method) continue;
      const yesterday = Math.floor(r.ts / DAY_MS) * DAY_MS - DAY_MS;
      if ((done.get(r.patientId) ?? 0) >= yesterday) continue;
      done.set(r.patientId, yesterday);
      summarise(r.patientId, yesterday).catch((err) => log.error({ err, patientId: r.patientId }, 'CGM daily summary failed'));
    }
  });
  return { close: off };
}
