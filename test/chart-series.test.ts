/**
 * Issue 11 defect 4: a 7-day chart of 5-second vitals (120,960 readings) used to be read `ORDER BY ts ASC
 * LIMIT 100000` and downsampled in Node, losing the newest ~29 hours. Now it is downsampled in SQL with
 * date_bin buckets (min/max/mean) over every reading, and always ends at the newest one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootAppOn, STORES, type TestApp } from './support/app.ts';
import { postgresAvailable, skipNote } from './support/services.ts';
import type { NewReading } from '../src/store/readings.repository.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (chart series on PostgreSQL)');

const DAY = 86_400_000;

for (const setup of STORES) {
  describe.skipIf(setup.pg && !hasPg)(`chart series on ${setup.name}`, () => {
    let app: TestApp;
    let clinician: string;
    let patientId: string;
    const now = Date.now();
    const from = now - 7 * DAY;
    const values: Array<[number, number]> = [];

    beforeAll(async () => {
      app = await bootAppOn(setup);
      const c = await app.tokenFor('clinician');
      clinician = c.token;
      patientId = (await app.services.patientService.create({ name: 'Seven Days', birthDate: '1950-01-01' }, 'system')).id;
      await app.services.patientService.assignClinician(patientId, c.practitionerId!, 'system');
      // 7 days of heart rate every 5 s, with one brief dip to 38 and one spike to 190 in the middle of the week
      // and a distinctive newest value (111) one second ago.
      const rows: NewReading[] = [];
      for (let t = from + 5_000; t < now - 1_000; t += 5_000) {
        const v = t === from + 3 * DAY + 5_000 ? 38 : t === from + 4 * DAY ? 190 : 60 + Math.round(10 * Math.sin(t / 3_600_000));
        rows.push({ patientId, deviceId: null, code: '8867-4', value: v, unit: '/min', ts: t, seq: null });
      }
      rows.push({ patientId, deviceId: null, code: '8867-4', value: 111, unit: '/min', ts: now - 1_000, seq: null });
      for (const r of rows) values.push([r.ts, r.value]);
      for (let i = 0; i < rows.length; i += 20_000) {
        const chunk = rows.slice(i, i + 20_000);
        await app.services.db.transaction((tx) => app.services.repos.readings.insertBatch(tx, chunk));
      }
    }, 240_000);
    afterAll(async () => {
      await app?.stop();
    });

    it('downsamples 7 days of 5-second readings in SQL and ends at the newest reading', async () => {
      expect(values.length).toBeGreaterThan(120_000);
      const res = await app.api<{
        points: Array<[number, number]>;
        bucketMs: number;
        buckets: Array<{ t: number; min: number; max: number; mean: number; n: number }>;
      }>(
        clinician,
        'GET',
        `/api/v1/patients/${patientId}/readings?code=8867-4&from=${new Date(from).toISOString()}&to=${new Date(now).toISOString()}&maxPoints=1000`,
      );
      expect(res.status).toBe(200);
      const { points, buckets, bucketMs } = res.body;
      expect(points.length).toBeLessThanOrEqual(1001);
      expect(points.length).toBeGreaterThan(900);
      expect(points.at(-1)).toEqual([now - 1_000, 111]); // the newest reading, not one from 29 hours ago
      expect(Math.min(...points.map((p) => p[1]))).toBe(38); // the dip survives
      expect(Math.max(...points.map((p) => p[1]))).toBe(190); // and the spike
      expect(points.some(([t, v]) => t === from + 3 * DAY + 5_000 && v === 38)).toBe(true); // at the time it happened
      for (let i = 1; i < points.length; i++) expect(points[i][0]).toBeGreaterThan(points[i - 1][0]);
      // Every reading is counted in exactly one bucket, and the bucket statistics are right.
      expect(buckets.reduce((n, b) => n + b.n, 0)).toBe(values.length);
      const b0 = buckets[0];
      const inB0 = values.filter(([t]) => t >= b0.t && t < b0.t + bucketMs).map(([, v]) => v);
      expect(b0.n).toBe(inB0.length);
      expect(b0.min).toBe(Math.min(...inB0));
      expect(b0.max).toBe(Math.max(...inB0));
      expect(b0.mean).toBeCloseTo(inB0.reduce((a, v) => a + v, 0) / inB0.length, 6);
    });

    it('returns a short range raw, and an empty one empty', async () => {
      const res = await app.api<{ points: Array<[number, number]>; bucketMs: number | null }>(
        clinician,
        'GET',
        `/api/v1/patients/${patientId}/readings?code=8867-4&from=${new Date(now - 60_000).toISOString()}`,
      );
      expect(res.body.bucketMs).toBeNull();
      expect(res.body.points).toEqual(values.filter(([t]) => t >= now - 60_000));
      const none = await app.api<{ points: unknown[] }>(
        clinician,
        'GET',
        `/api/v1/patients/${patientId}/readings?code=8310-5&from=${new Date(from).toISOString()}`,
      );
      expect(none.body.points).toEqual([]);
    });
  });
}
