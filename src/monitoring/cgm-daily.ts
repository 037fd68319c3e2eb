import type { EventBus } from '../platform/events.ts';
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { ReadingsRepository } from '../store/readings.repository.ts';
import type { PatientsRepository } from '../store/patients.repository.ts';
import { settingsOf } from '../patients/patient-status.ts';
import { localDayStart } from '../platform/time-zone.ts';
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
 * Once per patient and local day (midnight to midnight in the patient's zone, else the clinic's), when glucose
 * arrives, stores the previous day's time in range as a derived Observation (LOINC 97510-2), stamped at that
 * day's start with the consensus algorithm. A day the clocks change is 23 or 25 hours long, and measured so.
 */
export function createCgmDailySummaries(deps: {
  events: EventBus;
  repos: { readings: ReadingsRepository; patients: Pick<PatientsRepository, 'byId'> };
  /** The clinic's IANA zone (VIGIL_TIME_ZONE). */
  timeZone: string;
  ingest: Pick<IngestService, 'storeDerived'>;
  clock: Clock;
  logger: Logger;
  /** Several instances: the patient's owner summarises (cluster/ownership.ts); the unique index backs it up. */
  ownership?: Ownership;
}) {
  const log = deps.logger.child({ module: 'cgm-daily' });
  const ownership = deps.ownership ?? soleOwnership('local');
  const done = new Map<string, number>(); // patient → day start already summarised
  const zones = new Map<string, string>(); // patient → zone, forgotten hourly with the pruning below (a settings change)

  async function zoneOf(patientId: string): Promise<string> {
    const known = zones.get(patientId);
    if (known) return known;
    const patient = await deps.repos.patients.byId(patientId);
    const zone = (patient && settingsOf(patient.settings).timeZone) || deps.timeZone;
    zones.set(patientId, zone);
    return zone;
  }

  /** The local day before the one holding `ts`, summarised once. */
  async function summariseDayBefore(patientId: string, ts: number) {
    const zone = await zoneOf(patientId);
    const today = localDayStart(zone, ts);
    const yesterday = localDayStart(zone, today - 1);
    if ((done.get(patientId) ?? 0) >= yesterday) return;
    done.set(patientId, yesterday);
    await summarise(patientId, yesterday, today);
  }

  async function summarise(patientId: string, dayStart: number, end: number) {
    if (!(await ownership.owns(patientId))) return;
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
      zones.clear();
    }
    // One check per patient and batch, at its newest glucose reading (a batch holds many of one sensor).
    const newest = new Map<string, number>();
    for (const r of readings) if (r.code === GLUCOSE && !r.method && r.ts > (newest.get(r.patientId) ?? -Infinity)) newest.set(r.patientId, r.ts);
    for (const [patientId, ts] of newest) {
      // Still the day after the one summarised (a local day is 23–25 h): nothing to look up.
      if (ts < (done.get(patientId) ?? -Infinity) + 2 * DAY_MS - 2 * 3_600_000) continue;
      summariseDayBefore(patientId, ts).catch((err) => log.error({ err, patientId }, 'CGM daily summary failed'));
    }
  });
  return { close: off };
}
