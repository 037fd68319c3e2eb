import type { AccessPolicy } from '../auth/access.ts';
import type { Principal } from '../domain/types.ts';
import type { Clock } from '../platform/clock.ts';
import type { ReadingsRepository } from '../store/readings.repository.ts';
import type { EcgRepository } from '../store/ecg.repository.ts';
import { BY_CODE, DERIVED_CODES, ECG_UNIT_PER_MV } from '../domain/codes.ts';
import { detectBeats } from '../analysis/ecg/index.ts';

const DEFAULT_RANGE_MS = 3600_000; // a chart without `from` shows the last hour

/**
 * A patient's time series for charts: one code's readings over a range (downsampled min/max-preserving),
 * and the latest ECG strip with beat marks and AF episodes as sample ranges.
 */
export function createSeriesService(deps: {
  access: AccessPolicy;
  readings: ReadingsRepository;
  ecg: EcgRepository;
  clock: Clock;
  afSince?: (deviceId: string) => number | null;
}) {
  return {
    async readings(principal: Principal, patientId: string, q: { code: string; from?: number; to?: number; maxPoints: number }) {
      await deps.access.assertPatient(principal, patientId);
      const info = BY_CODE.get(q.code);
      const to = q.to ?? deps.clock.now();
      const from = q.from ?? to - DEFAULT_RANGE_MS;
      // Downsampled in SQL (date_bin buckets, min/max/mean): every reading in the range counts, the newest included.
      const series = await deps.readings.series(patientId, q.code, from, to, q.maxPoints);
      return { code: q.code, unit: series.unit ?? info?.unit ?? null, from, to, points: series.points, bucketMs: series.bucketMs, buckets: series.buckets };
    },

    async ecgStrip(principal: Principal, patientId: string, seconds: number) {
      await deps.access.assertPatient(principal, patientId);
      const chunks = await deps.ecg.latest(patientId, seconds);
      if (chunks.length === 0) return { fs: null, lead: null, unit: null, start: null, samples: [] as number[] };
      // Keep only the chunks contiguous with the newest (same rate), so a strip never splices different devices.
      const newest = chunks[chunks.length - 1];
      const same = chunks.filter((c) => c.deviceId === newest.deviceId && c.fs === newest.fs);
      const samples = same.flatMap((c) => c.samples);
      // Beat marks for the strip (the same detector as the live analysis; ~1 ms for 10 s of signal).
      const beats = detectBeats(samples, newest.fs, ECG_UNIT_PER_MV[newest.unit]);
      // AF episodes overlapping the strip (stored ones: ts = start, value = duration in s; plus one in progress),
      // as sample ranges so the strip can shade them.
      const start = same[0].ts;
      const end = start + (samples.length / newest.fs) * 1000;
      const toSample = (t: number) => Math.max(0, Math.min(samples.length, Math.round(((t - start) / 1000) * newest.fs)));
      const stored = (await deps.readings.range(patientId, DERIVED_CODES.afEpisode.code, start - 86_400_000, end)).filter(
        (r) => r.method && r.ts + r.value * 1000 > start,
      );
      const af = stored.map((r) => ({ start: toSample(r.ts), end: toSample(r.ts + r.value * 1000) }));
      const ongoing = deps.afSince?.(newest.deviceId);
      if (ongoing != null && ongoing < end) af.push({ start: toSample(ongoing), end: samples.length });
      return { fs: newest.fs, lead: newest.lead, unit: newest.unit, start, deviceId: newest.deviceId, samples, beats, af };
    },
  };
}

export type SeriesService = ReturnType<typeof createSeriesService>;
