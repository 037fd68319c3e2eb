import type { FastifyInstance } from 'fastify';
import type { PatientService } from '../../patients/patient.service.ts';
import type { DerivedService } from '../../patients/derived.service.ts';
import type { AccessPolicy } from '../../auth/access.ts';
import type { ReadingsRepository } from '../../store/readings.repository.ts';
import type { EcgRepository } from '../../store/ecg.repository.ts';
import type { Clock } from '../../platform/clock.ts';
import { requirePrincipal } from '../principal.ts';
import { badRequest } from '../../platform/errors.ts';
import { BY_CODE, DERIVED_CODES, ECG_UNIT_PER_MV } from '../../domain/codes.ts';
import { parseTime } from '../query.ts';
import { detectBeats } from '../../analysis/ecg/index.ts';

const MAX_RANGE_POINTS = 5_000;
const badSettings = (): never => {
  throw badRequest('settings must be an object such as {"spo2Scale": 2}');
};

export function patientRoutes(app: FastifyInstance, deps: { patients: PatientService; derived: DerivedService; access: AccessPolicy; readings: ReadingsRepository; ecg: EcgRepository; clock: Clock; afSince?: (deviceId: string) => number | null }) {
  app.get('/api/v1/patients', async (req) => deps.patients.panel(requirePrincipal(req)));

  app.post('/api/v1/patients', async (req, reply) => {
    const p = requirePrincipal(req);
    deps.access.assertStaff(p);
    const body = (req.body ?? {}) as { name?: string; birthDate?: string; sex?: string; settings?: Record<string, unknown> };
    const settings = body.settings !== undefined && (typeof body.settings !== 'object' || body.settings === null) ? badSettings() : body.settings;
    const created = await deps.patients.create({ name: body.name ?? '', birthDate: body.birthDate, sex: body.sex, settings }, p);
    if (p.role === 'clinician' && p.practitionerId) await deps.patients.assignClinician(created.id, p.practitionerId, p);
    return reply.status(201).send(created);
  });

  app.get('/api/v1/patients/:id', async (req) => deps.patients.detail(requirePrincipal(req), (req.params as { id: string }).id));

  app.patch('/api/v1/patients/:id/settings', async (req) =>
    deps.patients.updateSettings(requirePrincipal(req), (req.params as { id: string }).id, (req.body ?? {}) as Record<string, unknown>),
  );

  app.get('/api/v1/patients/:id/readings', async (req) => {
    const principal = requirePrincipal(req);
    const { id } = req.params as { id: string };
    await deps.access.assertPatient(principal, id);
    const q = req.query as { code?: string; from?: string; to?: string; maxPoints?: string };
    if (!q.code) throw badRequest('code is required (a LOINC code such as 8867-4)');
    const info = BY_CODE.get(q.code);
    const now = deps.clock.now();
    const to = q.to ? parseTime(q.to, 'to') : now;
    const from = q.from ? parseTime(q.from, 'from') : to - 3600_000;
    const maxPoints = Math.min(MAX_RANGE_POINTS, Math.max(10, Number(q.maxPoints ?? 1000) || 1000));
    // Downsampled in SQL (date_bin buckets, min/max/mean): every reading in the range counts, the newest included.
    const series = await deps.readings.series(id, q.code, from, to, maxPoints);
    return { code: q.code, unit: series.unit ?? info?.unit ?? null, from, to, points: series.points, bucketMs: series.bucketMs, buckets: series.buckets };
  });

  app.get('/api/v1/patients/:id/derived', async (req) => deps.derived.forPatient(requirePrincipal(req), (req.params as { id: string }).id));

  app.get('/api/v1/patients/:id/ecg', async (req) => {
    const principal = requirePrincipal(req);
    const { id } = req.params as { id: string };
    await deps.access.assertPatient(principal, id);
    const seconds = Math.min(60, Math.max(1, Number((req.query as { seconds?: string }).seconds ?? 10) || 10));
    const chunks = await deps.ecg.latest(id, seconds);
    if (chunks.length === 0) return { fs: null, lead: null, unit: null, start: null, samples: [] };
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
    const stored = (await deps.readings.range(id, DERIVED_CODES.afEpisode.code, start - 86_400_000, end)).filter((r) => r.method && r.ts + r.value * 1000 > start);
    const episodes = stored.map((r) => ({ start: toSample(r.ts), end: toSample(r.ts + r.value * 1000) }));
    const ongoing = deps.afSince?.(newest.deviceId);
    if (ongoing != null && ongoing < end) episodes.push({ start: toSample(ongoing), end: samples.length });
    return { fs: newest.fs, lead: newest.lead, unit: newest.unit, start, deviceId: newest.deviceId, samples, beats, af: episodes };
  });
}
