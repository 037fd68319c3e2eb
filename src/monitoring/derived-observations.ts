import type { EventBus } from '../platform/events.ts';
import type { Logger } from '../platform/logger.ts';
import type { Clock } from '../platform/clock.ts';
import type { ReadingsRepository } from '../store/readings.repository.ts';
import type { PatientsRepository } from '../store/patients.repository.ts';
import type { IngestService } from '../ingest/ingest.service.ts';
import type { StoredReading } from '../domain/types.ts';
import type { News2Scored } from '../platform/events.ts';
import { DERIVED_CODES } from '../domain/codes.ts';
import { NEWS2_ALGORITHM } from '../analysis/news2/index.ts';
import { news2For, settingsOf } from '../patients/patient-status.ts';
import { soleOwnership, type Ownership } from '../cluster/ownership.ts';

const NEWS2_MIN_INTERVAL_MS = 5_000; // recompute at most every 5 s per patient: vitals arrive every few seconds
const NEWS2_STORE_EVERY_MS = 15 * 60_000; // an unchanged score is still recorded every 15 min for the chart
const FORGET_AFTER_MS = 2 * NEWS2_STORE_EVERY_MS; // a patient quiet this long is forgotten (memory); the next reading starts afresh
const RESCORE_AT_START_MS = 15 * 60_000; // patients with readings this recent are scored at start

/**
 * Runs the pure analyses as readings arrive and stores their results as derived Observations (with the
 * algorithm's name and version), then tells the dashboard. NEWS2 here; ECG findings plug in the same way.
 */
export function createDerivedObservations(deps: {
  events: EventBus;
  repos: { readings: ReadingsRepository; patients: PatientsRepository };
  ingest: Pick<IngestService, 'storeDerived'>;
  clock: Clock;
  logger: Logger;
  /** Several instances: only a patient's owner computes and stores its NEWS2 (cluster/ownership.ts). */
  ownership?: Ownership;
}) {
  const log = deps.logger.child({ module: 'derived' });
  const ownership = deps.ownership ?? soleOwnership('local');
  const pending = new Set<string>();
  const last = new Map<string, { at: number; score: number | null; shown: string; storedAt: number }>();
  let timer: NodeJS.Timeout | null = null;
  let closed = false;

  const off = deps.events.on('readings.stored', (readings: StoredReading[]) => {
    for (const r of readings) if (!r.method) pending.add(r.patientId);
    if (!timer && !closed) timer = setTimeout(run, 250);
  });

  async function run() {
    timer = null;
    const now = deps.clock.now();
    const due = [...pending].filter((id) => now - (last.get(id)?.at ?? 0) >= NEWS2_MIN_INTERVAL_MS);
    for (const id of due) pending.delete(id);
    if (pending.size > 0 && !closed) timer = setTimeout(run, NEWS2_MIN_INTERVAL_MS);
    for (const [id, l] of last) if (now - l.at >= FORGET_AFTER_MS && !pending.has(id)) last.delete(id);
    if (due.length === 0) return;
    try {
      const owned = (await Promise.all(due.map(async (id) => ((await ownership.owns(id)) ? id : null)))).filter((id): id is string => id !== null);
      if (owned.length === 0) return;
      const [latest, patients] = await Promise.all([deps.repos.readings.latestFor(owned), deps.repos.patients.list(owned)]);
      const toStore = [];
      const scored: News2Scored[] = [];
      for (const p of patients) {
        const result = news2For(latest.get(p.id) ?? {}, settingsOf(p.settings), now);
        // Not remembered (first sight, or this instance just took the patient over): the last stored score
        // is the previous one, so a new owner does not store the same score again.
        const stored = latest.get(p.id)?.[DERIVED_CODES.news2.code];
        const prev = last.get(p.id) ?? (stored ? { at: 0, score: stored.value, shown: '', storedAt: stored.ts } : undefined);
        const changed = !prev || prev.score !== result.score;
        // What the panel shows: an incomplete set has no score but a partial one ("≥ 2") and a minimum risk,
        // and those change too (RR 21 adds 2). Comparing only the complete score left the panel at "≥ 0".
        const shown = JSON.stringify([result.score, result.partialScore, result.risk, result.minimumRisk, result.complete, result.components]);
        last.set(p.id, {
          at: now,
          score: result.score,
          shown,
          storedAt: changed || !prev || now - prev.storedAt >= NEWS2_STORE_EVERY_MS ? now : prev.storedAt,
        });
        if (!prev || prev.shown !== shown) {
          scored.push({
            patientId: p.id,
            score: result.score,
            partialScore: result.partialScore,
            risk: result.risk,
            minimumRisk: result.minimumRisk,
            complete: result.complete,
            components: result.components as Record<string, number>,
            ts: now,
          });
        }
        if (result.complete && result.score !== null && (changed || now - (prev?.storedAt ?? 0) >= NEWS2_STORE_EVERY_MS)) {
          toStore.push({
            patientId: p.id,
            deviceId: null,
            system: DERIVED_CODES.news2.system,
            code: DERIVED_CODES.news2.code,
            value: result.score,
            unit: DERIVED_CODES.news2.unit,
            ts: now,
            seq: null,
            method: { ...NEWS2_ALGORITHM },
          });
        }
      }
      await deps.ingest.storeDerived(toStore);
      // Write first, then emit: the scores above are durable now.
      for (const e of scored) deps.events.emit('news2.scored', e);
    } catch (err) {
      log.error({ err }, 'NEWS2 update failed');
    }
  }

  // At start: the patients with readings of the last 15 min are scored once, so a score (and its alert) that
  // an instance killed between storing readings and scoring them never produced is produced now, not at the
  // patient's next reading (found by review: kill -9 after SpO2 85 readings, restart, no NEWS2 alert).
  deps.repos.readings
    .patientsActiveSince(deps.clock.now() - RESCORE_AT_START_MS)
    .then((ids) => {
      if (closed || !ids.length) return;
      for (const id of ids) pending.add(id);
      if (!timer) timer = setTimeout(run, 0);
    })
    .catch((err) => log.error({ err }, 'could not find the patients to score at start'));

  // A patient that moved to another instance: what this one remembered of it is stale once it comes back.
  const offOwnership = ownership.onChange(({ bucket, owned }) => {
    if (owned) return;
    for (const id of last.keys()) if (ownership.bucketOf(id) === bucket) last.delete(id);
  });

  return {
    /** Patients whose last NEWS2 is remembered (tests). */
    remembered: () => last.size,
    close() {
      closed = true;
      off();
      offOwnership();
      if (timer) clearTimeout(timer);
    },
  };
}
