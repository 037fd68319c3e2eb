import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../test/support/app.ts';
import { privatePostgresAvailable, startPrivatePostgres } from '../../../test/support/private-postgres.ts';

/**
 * Far date bounds on PostgreSQL (PGlite is covered in search.e2e.test.ts): year 9999 and 0001 are valid FHIR
 * dates, and their range ends (10000-01-01, 0001-01-01) must reach the server as values it reads.
 */
describe.skipIf(!privatePostgresAvailable())('FHIR search on PostgreSQL: date bounds, accent-insensitive names', () => {
  let pg: Awaited<ReturnType<typeof startPrivatePostgres>>;
  let app: TestApp;
  let clin: string;
  let patient: string;

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    app = await bootApp({ databaseUrl: pg.url });
    const s = app.services;
    patient = (await s.patientService.create({ name: 'Dana Dale', birthDate: '1960-01-02' }, 'system')).id;
    const cl = await app.tokenFor('clinician');
    clin = cl.token;
    await s.patientService.assignClinician(patient, cl.practitionerId!, 'system');
    const dev = (await s.deviceService.provision({ patientId: patient, type: 'pulse-oximeter' }, 'system')).id;
    expect((await s.ingest.acceptTelemetry(dev, JSON.stringify({ ts: Date.parse('2026-11-20T10:00:00Z'), seq: 1, hr: 70 }))).ok).toBe(true);
  }, 120_000);
  afterAll(async () => {
    await app?.stop();
    await pg?.stop();
  });

  it('answers year 9999 and 0001 bounds with the right totals', async () => {
    const count = async (q: string) => {
      const res = await fetch(`${app.httpUrl}/fhir/R4/${q}&_summary=count`, { headers: { authorization: `Bearer ${clin}` } });
      const body = (await res.json()) as { total?: number };
      expect(res.status, `${q}: ${JSON.stringify(body)}`).toBe(200);
      return body.total;
    };
    expect(await count(`Observation?patient=${patient}&date=9999`)).toBe(0);
    expect(await count(`Observation?patient=${patient}&date=le9999-12-31`)).toBe(1);
    expect(await count(`Observation?patient=${patient}&_lastUpdated=le9999-12-31`)).toBe(1);
    expect(await count(`Observation?patient=${patient}&date=ge0001-01-01`)).toBe(1);
    expect(await count(`Observation?patient=${patient}&date=0001`)).toBe(0);
    expect(await count(`Patient?birthdate=le9999`)).toBe(1);
    expect(await count(`Patient?birthdate=0001`)).toBe(0);
  });

  it('matches names accent-insensitively on PostgreSQL too', async () => {
    await app.services.patientService.assignClinician(
      (await app.services.patientService.create({ name: 'Zoë Fernández' }, 'system')).id,
      (await app.tokenFor('clinician')).practitionerId!,
      'system',
    );
    const admin = (await app.tokenFor('admin')).token;
    const res = await fetch(`${app.httpUrl}/fhir/R4/Patient?name=fernandez&name=zoe&_summary=count`, { headers: { authorization: `Bearer ${admin}` } });
    expect(((await res.json()) as { total?: number }).total).toBe(1);
  });
});
