/**
 * Clock times are read in the patient's zone (else the clinic's VIGIL_TIME_ZONE): home BP's morning and
 * evening, the AGP's hours. Found by review: both were at UTC, five hours off for a New York clinic.
 * Also: the home-threshold BP category beside the office one (ACC/AHA 2017 Table 11).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from './support/app.ts';
import { localDayStart } from '../src/platform/time-zone.ts';

const H = 3_600_000;

type Derived = {
  timeZone: string;
  bp: {
    category: string;
    homeCategory: string;
    readings: number;
    home: {
      overall: { category: string | null; provisionalCategory?: string; readings: number };
      morning: { readings: number };
      evening: { readings: number };
    };
  };
};

describe('patient time zone and home blood pressure', () => {
  let app: TestApp;
  let clinician: string;
  let patientId: string;
  beforeAll(async () => {
    app = await bootApp({ env: { VIGIL_TIME_ZONE: 'Europe/London' } });
    const c = await app.tokenFor('clinician');
    clinician = c.token;
    patientId = (await app.services.patientService.create({ name: 'Home Cuff', birthDate: '1948-05-01' }, 'system')).id;
    await app.services.patientService.assignClinician(patientId, c.practitionerId!, 'system');
    const dev = await app.services.deviceService.provision({ patientId, type: 'multi' }, 'system');
    // Six mornings at 07:30 New York time (12:30Z or 11:30Z): 137/86, stage 1 in clinic, stage 2 at home.
    const today = localDayStart('America/New_York', Date.now());
    let seq = 0;
    for (let d = 1; d <= 6; d++) {
      const ts = localDayStart('America/New_York', today - (d - 1) * 24 * H - 1) + 7.5 * H;
      expect((await app.services.ingest.acceptTelemetry(dev.id, JSON.stringify({ ts, seq: seq++, sbp: 137, dbp: 86 }))).ok).toBe(true);
    }
  }, 120_000);
  afterAll(async () => app && (await app.stop()));

  it('refuses a zone that does not exist, naming the setting, and changes nothing', async () => {
    const bad = await app.api<{ error: { message: string } }>(clinician, 'PATCH', `/api/v1/patients/${patientId}/settings`, { timeZone: 'Mars/Olympus' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/timeZone must be an IANA time zone/);
    const detail = await app.api<{ settings: { timeZone?: string } }>(clinician, 'GET', `/api/v1/patients/${patientId}`);
    expect(detail.body.settings.timeZone).toBeUndefined();
  });

  it('reads clock times in the clinic’s zone, then in the patient’s own once set, and back', async () => {
    const london = await app.api<Derived>(clinician, 'GET', `/api/v1/patients/${patientId}/derived`);
    expect(london.body.timeZone).toBe('Europe/London');
    // 07:30 in New York is 12:30 in London: afternoon, neither morning nor evening.
    expect(london.body.bp.home.morning.readings).toBe(0);

    const set = await app.api<{ timeZone?: string }>(clinician, 'PATCH', `/api/v1/patients/${patientId}/settings`, { timeZone: 'America/New_York' });
    expect(set.status).toBe(200);
    expect(set.body.timeZone).toBe('America/New_York');
    const ny = await app.api<Derived>(clinician, 'GET', `/api/v1/patients/${patientId}/derived`);
    expect(ny.body.timeZone).toBe('America/New_York');
    expect(ny.body.bp.home.morning.readings).toBe(6);
    expect(ny.body.bp.home.evening.readings).toBe(0);

    expect((await app.api(clinician, 'PATCH', `/api/v1/patients/${patientId}/settings`, { timeZone: null })).status).toBe(200);
    expect((await app.api<Derived>(clinician, 'GET', `/api/v1/patients/${patientId}/derived`)).body.timeZone).toBe('Europe/London');
  });

  it('gives the home-threshold category beside the office one (ACC/AHA 2017 Table 11)', async () => {
    const d = await app.api<Derived>(clinician, 'GET', `/api/v1/patients/${patientId}/derived`);
    expect(d.body.bp.category).toBe('stage1');
    expect(d.body.bp.homeCategory).toBe('stage2');
    // One classification of one window: the home category is the home summary's, over the same readings.
    expect(d.body.bp.homeCategory).toBe(d.body.bp.home.overall.category ?? d.body.bp.home.overall.provisionalCategory);
    expect(d.body.bp.home.overall.readings).toBe(d.body.bp.readings);
  });

  it('lets neither the patient nor a clinician outside the care team change it', async () => {
    const patient = (await app.tokenFor('patient', { patientId })).token;
    expect((await app.api(patient, 'PATCH', `/api/v1/patients/${patientId}/settings`, { timeZone: 'Asia/Tokyo' })).status).toBe(403);
    const stranger = (await app.tokenFor('clinician')).token;
    expect([403, 404]).toContain((await app.api(stranger, 'PATCH', `/api/v1/patients/${patientId}/settings`, { timeZone: 'Asia/Tokyo' })).status);
  });
});
