/**
 * Derived results name what they were computed from (`derivedFrom`), on the real server (PGlite, the real
 * ingest path and the real NEWS2 monitor): a NEWS2 score its five measured inputs (a cuff's systolic as its
 * blood-pressure panel), an AF episode the ECG chunk it begins in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../test/support/app.ts';
import { DERIVED_CODES } from '../../domain/codes.ts';

type Resource = Record<string, any>;
type Bundle = { total?: number; entry?: Array<{ resource: Resource; search: { mode: string } }> };

describe('FHIR derivedFrom of derived results', () => {
  let app: TestApp;
  let clin: string;
  let patient: string;
  let monitor: string;
  let ecgDev: string;

  const search = async (query: string) => {
    const res = await fetch(`${app.httpUrl}/fhir/R4/Observation?patient=${patient}&_count=100&${query}`, { headers: { authorization: `Bearer ${clin}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as Bundle).entry?.filter((e) => e.search.mode === 'match').map((e) => e.resource) ?? [];
  };
  const only = async (query: string) => {
    const found = await search(query);
    expect(found).toHaveLength(1);
    return found[0];
  };
  const refs = (o: Resource) => ((o.derivedFrom ?? []) as Array<{ reference: string }>).map((d) => d.reference).sort();

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    patient = (await s.patientService.create({ name: 'Dora Dean', birthDate: '1944-05-06', sex: 'female' }, 'system')).id;
    const cl = await app.tokenFor('clinician');
    clin = cl.token;
    await s.patientService.assignClinician(patient, cl.practitionerId!, 'system');
    monitor = (await s.deviceService.provision({ patientId: patient, type: 'bedside' }, 'system')).id;
    ecgDev = (await s.deviceService.provision({ patientId: patient, type: 'ecg' }, 'system')).id;
  });
  afterAll(async () => app && (await app.stop()));

  it('a NEWS2 score lists the five readings it was computed from, not readings stored after it', async () => {
    const at = Date.now() - 60_000;
    const vitals = { ts: at, seq: 1, hr: 118, rr: 24, spo2: 95, sbp: 104, dbp: 70, temp: 38.4 };
    expect((await app.services.ingest.acceptTelemetry(monitor, JSON.stringify(vitals))).ok).toBe(true);
    // The monitor scores the patient within seconds of the readings and stores the complete score.
    await expect.poll(async () => (await search(`code=${DERIVED_CODES.news2.system}|${DERIVED_CODES.news2.code}`)).length, { timeout: 20_000 }).toBe(1);
    const score = await only(`code=${DERIVED_CODES.news2.system}|${DERIVED_CODES.news2.code}`);
    expect(score.method.text).toMatch(/news2/i);

    const idOf = async (code: string) => `Observation/${(await only(`code=http://loinc.org|${code}`)).id}`;
    const panel = await only('code=http://loinc.org|85354-9');
    expect(panel.id).toMatch(/^bp-\d+$/);
    const inputs = [await idOf('8867-4'), await idOf('9279-1'), await idOf('59408-5'), await idOf('8310-5'), `Observation/${panel.id}`].sort();
    expect(refs(score)).toEqual(inputs);

    // Every reference resolves, to a resource the caller may read.
    for (const ref of refs(score)) {
      const res = await fetch(`${app.httpUrl}/fhir/R4/${ref}`, { headers: { authorization: `Bearer ${clin}` } });
      expect(res.status, ref).toBe(200);
    }

    // A newer heart rate with the same score stores no new score: the stored one still names the reading it used.
    expect((await app.services.ingest.acceptTelemetry(monitor, JSON.stringify({ ts: at + 20_000, seq: 2, hr: 119 }))).ok).toBe(true);
    await expect.poll(async () => (await search('code=http://loinc.org|8867-4')).length).toBe(2);
    const again = await only(`code=${DERIVED_CODES.news2.system}|${DERIVED_CODES.news2.code}`);
    expect(refs(again)).toEqual(inputs);
  });

  it('an AF episode points at the ECG chunk in which it begins, and at nothing when no chunk spans its start', async () => {
    const t = Date.now() - 600_000;
    for (let i = 0; i < 2; i++) {
      const chunk = { ts: t + i * 10_000, seq: i + 1, fs: 250, lead: 'II', unit: 'uV', samples: new Array(2500).fill(0) };
      expect((await app.services.ingest.acceptEcg(ecgDev, JSON.stringify(chunk))).ok).toBe(true);
    }
    const ecg = (await search('code=urn:oid:2.16.840.1.113883.6.24|131329&_sort=date')).map((o) => o.id);
    expect(ecg).toHaveLength(2);
    const episode = (start: number) => ({
      patientId: patient,
      deviceId: ecgDev,
      system: DERIVED_CODES.afEpisode.system,
      code: DERIVED_CODES.afEpisode.code,
      value: 45,
      unit: 's',
      ts: start,
      seq: null,
      method: { name: 'vigil-ecg', version: 'test' },
    });
    // As the ECG monitor stores them: one beginning 14 s in (the second chunk), one in a gap after the signal.
    await app.services.ingest.storeDerived([episode(t + 14_000), episode(t + 60_000)]);
    const episodes = await search(`code=${DERIVED_CODES.afEpisode.system}|${DERIVED_CODES.afEpisode.code}&_sort=date`);
    expect(episodes.map(refs)).toEqual([[`Observation/${ecg[1]}`], []]);
  });
});
