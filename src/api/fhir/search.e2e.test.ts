/**
 * FHIR search on the real server (PGlite, real ingest path): every declared parameter filters exactly,
 * everything else is refused under Prefer: handling=strict and left out of the self link otherwise; ECG
 * Observations are part of normal search; paging is keyset and stable while data arrives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../test/support/app.ts';

type Entry = { fullUrl: string; resource: Record<string, any>; search: { mode: string } };
type Bundle = { resourceType: string; total?: number; link: Array<{ relation: string; url: string }>; entry: Entry[] };

describe('FHIR R4 search', () => {
  let app: TestApp;
  let admin: string;
  let clin: string;
  let a: string;
  let b: string;
  let c: string;
  let oxi: string;
  let cuff: string;
  let ecgDev: string;
  const t0 = Date.parse('2026-11-20T10:00:00Z');

  const get = async <T = Bundle>(token: string, url: string, headers: Record<string, string> = {}) => {
    const res = await fetch(app.httpUrl + url, { headers: { authorization: `Bearer ${token}`, ...headers } });
    return { status: res.status, body: (await res.json()) as T, type: res.headers.get('content-type') };
  };
  const matches = (b: Bundle) => (b.entry ?? []).filter((e) => e.search.mode === 'match').map((e) => e.resource);
  const values = (b: Bundle) => matches(b).map((r) => r.valueQuantity?.value);

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    a = (await s.patientService.create({ name: 'Alice Ames', birthDate: '1941-03-02', sex: 'female', mrn: 'MRN-A1' }, 'system')).id;
    b = (await s.patientService.create({ name: 'Bob Brown', birthDate: '1950-07-14', sex: 'male', mrn: 'MRN-B2' }, 'system')).id;
    c = (await s.patientService.create({ name: 'Cora Cole', birthDate: '1950-07-30' }, 'system')).id;
    admin = (await app.tokenFor('admin')).token;
    const cl = await app.tokenFor('clinician');
    clin = cl.token;
    await s.patientService.assignClinician(a, cl.practitionerId!, 'system');
    await s.patientService.assignClinician(b, cl.practitionerId!, 'system');
    oxi = (await s.deviceService.provision({ patientId: a, type: 'pulse-oximeter' }, 'system')).id;
    cuff = (await s.deviceService.provision({ patientId: a, type: 'bp-cuff' }, 'system')).id;
    ecgDev = (await s.deviceService.provision({ patientId: a, type: 'ecg' }, 'system')).id;
    const bDev = (await s.deviceService.provision({ patientId: b, type: 'pulse-oximeter' }, 'system')).id;
    // Alice: 6 heart rates + SpO2 one per hour from t0, one BP pair, one lone systolic, two ECG chunks (flat: no beats, no derived HR).
    for (let i = 0; i < 6; i++)
      expect((await s.ingest.acceptTelemetry(oxi, JSON.stringify({ ts: t0 + i * 3600_000, seq: i + 1, hr: 60 + i, spo2: 90 + i }))).ok).toBe(true);
    expect((await s.ingest.acceptTelemetry(cuff, JSON.stringify({ ts: t0, seq: 1, sbp: 120, dbp: 80 }))).ok).toBe(true);
    expect((await s.ingest.acceptTelemetry(cuff, JSON.stringify({ ts: t0 + 60_000, seq: 2, sbp: 130 }))).ok).toBe(true);
    for (let i = 0; i < 2; i++) {
      expect(
        (
          await s.ingest.acceptEcg(
            ecgDev,
            JSON.stringify({ ts: t0 + i * 10_000, seq: i + 1, fs: 250, lead: 'II', unit: 'uV', samples: new Array(2500).fill(0) }),
          )
        ).ok,
      ).toBe(true);
    }
    // A heart rate the ECG monitor derived from the first chunk (stored as the monitor stores it).
    await s.ingest.storeDerived([
      {
        patientId: a,
        deviceId: ecgDev,
        system: 'http://loinc.org',
        code: '8867-4',
        value: 75,
        unit: '/min',
        ts: t0,
        seq: null,
        method: { name: 'vigil-ecg-hr', version: '1' },
      },
    ]);
    expect((await s.ingest.acceptTelemetry(bDev, JSON.stringify({ ts: t0, seq: 1, hr: 99 }))).ok).toBe(true);
  });
  afterAll(async () => app && (await app.stop()));

  it('serves conformant ids, and still resolves the REST ids', async () => {
    const r = await get(clin, `/fhir/R4/Patient?_count=10`);
    for (const p of matches(r.body)) expect(p.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    const obs = await get(clin, `/fhir/R4/Observation?patient=${a}&_count=100`);
    for (const o of matches(obs.body)) {
      expect(o.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
      expect(o.subject.reference).toMatch(/^Patient\/[A-Za-z0-9\-.]{1,64}$/);
      expect(o.meta.lastUpdated).toMatch(/Z$/);
      expect(o.meta.versionId).toBe('1');
    }
    const fhirId = a.replace('_', '-');
    expect((await get<any>(clin, `/fhir/R4/Patient/${fhirId}`)).body.id).toBe(fhirId);
    expect((await get<any>(clin, `/fhir/R4/Patient/${a}`)).body.id).toBe(fhirId);
    const dev = await get<any>(clin, `/fhir/R4/Device/${oxi.replace('_', '-')}`);
    expect(dev.body.identifier[0]).toEqual({ system: 'urn:vigil:device', value: oxi });
  });

  it('filters by subject with a type modifier and by a comma list of patients', async () => {
    expect((await get(clin, `/fhir/R4/Observation?subject:Patient=${a}&code=8867-4&_summary=count`)).body.total).toBe(6);
    expect((await get(clin, `/fhir/R4/Observation?subject=Patient/${b}&code=8867-4&_summary=count`)).body.total).toBe(1);
    expect((await get(clin, `/fhir/R4/Observation?patient=${a},${b}&code=8867-4&_summary=count`)).body.total).toBe(7);
    expect(
      (await get(clin, `/fhir/R4/Observation?patient=Patient/${a.replace('_', '-')},Patient/${b.replace('_', '-')}&code=8867-4&_summary=count`)).body.total,
    ).toBe(7);
    // Another patient's id in the list does not widen the caller's scope.
    expect((await get(clin, `/fhir/R4/Observation?patient=${c}&_summary=count`)).body.total).toBe(0);
    const bad = await get<any>(clin, `/fhir/R4/Observation?subject:Device=${oxi}`);
    expect(bad.status).toBe(400);
    expect(bad.body.issue[0].diagnostics).toMatch(/modifier ":Device" is not supported on "subject"/);
  });

  it('matches code with its system, :text, and never another system', async () => {
    expect((await get(clin, `/fhir/R4/Observation?patient=${a}&code=http://snomed.info/sct|8867-4&_summary=count`)).body.total).toBe(0);
    expect((await get(clin, `/fhir/R4/Observation?patient=${a}&code=http://loinc.org|8867-4&_summary=count`)).body.total).toBe(6);
    expect((await get(clin, `/fhir/R4/Observation?patient=${a}&code=http://loinc.org|2708-6&_summary=count`)).body.total).toBe(6);
    expect((await get(clin, `/fhir/R4/Observation?patient=${a}&code:text=oxygen saturation&_summary=count`)).body.total).toBe(6);
    expect((await get(clin, `/fhir/R4/Observation?patient=${a}&code=urn:oid:2.16.840.1.113883.6.24|147842&_summary=count`)).body.total).toBe(1);
  });

  it('filters by category, and keeps the ECG heart rate out of vital signs', async () => {
    const lab = await get(clin, `/fhir/R4/Observation?patient=${a}&category=laboratory`);
    expect(lab.body.total).toBe(0);
    const vitals = await get(
      clin,
      `/fhir/R4/Observation?patient=${a}&category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs&_count=100`,
    );
    expect(vitals.body.total).toBe(6 + 6 + 1 + 1); // hr, spo2, one BP panel, one lone systolic
    const hr = await get(clin, `/fhir/R4/Observation?patient=${a}&code=8867-4&category=vital-signs&_count=100`);
    expect(values(hr.body)).toEqual([60, 61, 62, 63, 64, 65]);
    const proc = await get(clin, `/fhir/R4/Observation?patient=${a}&category=procedure&_count=100`);
    expect(proc.body.total).toBe(3);
    const ecgHr = matches(proc.body).find((o) => o.valueQuantity);
    expect(ecgHr!.code.coding[0]).toMatchObject({ code: '147842' });
    expect(ecgHr!.derivedFrom[0].reference).toMatch(/^Observation\/ecg-\d+$/);
    expect(ecgHr!.method.text).toMatch(/vigil-ecg-hr/);
  });

  it('includes ECG Observations in plain searches, counts and paging', async () => {
    const all = await get(clin, `/fhir/R4/Observation?patient=${a}&_summary=count`);
    expect(all.body.total).toBe(6 + 6 + 1 + 1 + 2 + 1);
    const mixed = await get(clin, `/fhir/R4/Observation?patient=${a}&code=urn:oid:2.16.840.1.113883.6.24|131329,http://loinc.org|8867-4&_sort=-date&_count=3`);
    expect(mixed.body.total).toBe(8);
    expect(mixed.body.link.find((l) => l.relation === 'next')).toBeDefined();
    let seen = matches(mixed.body).map((o) => o.id);
    let next = mixed.body.link.find((l) => l.relation === 'next')?.url;
    while (next) {
      const page = await get(clin, next.replace(app.httpUrl, ''));
      seen = seen.concat(matches(page.body).map((o) => o.id));
      next = page.body.link.find((l) => l.relation === 'next')?.url;
    }
    expect(seen).toHaveLength(8);
    expect(seen.filter((id) => id.startsWith('ecg-'))).toHaveLength(2);
    const ecg = (await get<any>(clin, `/fhir/R4/Observation/${seen.find((id) => id.startsWith('ecg-'))}`)).body;
    expect(ecg.valueSampledData.data.split(' ')).toHaveLength(2500);
    expect(ecg.effectivePeriod.end).toBe(new Date(Date.parse(ecg.effectivePeriod.start) + 10_000).toISOString());
  });

  it('serves blood pressure as one 85354-9 panel with components', async () => {
    const bp = await get(clin, `/fhir/R4/Observation?patient=${a}&code=http://loinc.org|85354-9`);
    expect(bp.body.total).toBe(1);
    const panel = matches(bp.body)[0];
    expect(panel.id).toMatch(/^bp-\d+$/);
    expect(panel.component.map((c: any) => [c.code.coding[0].code, c.valueQuantity.value])).toEqual([
      ['8480-6', 120],
      ['8462-4', 80],
    ]);
    const lone = await get(clin, `/fhir/R4/Observation?patient=${a}&code=8480-6`);
    expect(values(lone.body)).toEqual([130]);
  });

  it('applies every date prefix', async () => {
    const q = (d: string) => get(clin, `/fhir/R4/Observation?patient=${a}&code=8867-4&category=vital-signs&${d}&_count=100`).then((r) => values(r.body));
    const at = (h: number) => encodeURIComponent(new Date(t0 + h * 3600_000).toISOString());
    expect(await q(`date=${at(2)}`)).toEqual([62]);
    expect(await q(`date=eq${at(2)}`)).toEqual([62]);
    expect(await q(`date=ne${at(2)}`)).toEqual([60, 61, 63, 64, 65]);
    expect(await q(`date=gt${at(2)}`)).toEqual([63, 64, 65]);
    expect(await q(`date=ge${at(2)}`)).toEqual([62, 63, 64, 65]);
    expect(await q(`date=lt${at(2)}`)).toEqual([60, 61]);
    expect(await q(`date=le${at(2)}`)).toEqual([60, 61, 62]);
    expect(await q(`date=sa${at(2)}`)).toEqual([63, 64, 65]);
    expect(await q(`date=eb${at(2)}`)).toEqual([60, 61]);
    expect(await q(`date=ge${at(1)}&date=lt${at(4)}`)).toEqual([61, 62, 63]);
    expect(await q(`date=2026-11-20`)).toEqual([60, 61, 62, 63, 64, 65]);
    expect(await q(`date=2026-11-21`)).toEqual([]);
    expect(await q(`date=2026-11`)).toEqual([60, 61, 62, 63, 64, 65]);
    expect(await q(`date=${at(1)},${at(3)}`)).toEqual([61, 63]);
    expect((await get<any>(clin, `/fhir/R4/Observation?date=geyesterday`)).status).toBe(400);
  });

  it('finds late-arriving readings by _lastUpdated, which date alone would miss', async () => {
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    // A device syncing after being offline: its reading is dated two days ago.
    expect((await app.services.ingest.acceptTelemetry(oxi, JSON.stringify({ ts: t0 - 2 * 86400_000, seq: 100, hr: 55 }))).ok).toBe(true);
    const byDate = await get(clin, `/fhir/R4/Observation?patient=${a}&code=8867-4&date=ge${encodeURIComponent(since)}`);
    expect(byDate.body.total).toBe(0);
    const byUpdate = await get(clin, `/fhir/R4/Observation?patient=${a}&_lastUpdated=gt${encodeURIComponent(since)}&_sort=_lastUpdated`);
    expect(values(byUpdate.body)).toEqual([55]);
    expect(Date.parse(matches(byUpdate.body)[0].meta.lastUpdated)).toBeGreaterThan(Date.parse(since));
    expect(
      (await get(clin, `/fhir/R4/Observation?patient=${a}&_lastUpdated=lt${encodeURIComponent(since)}&code=8867-4&category=vital-signs&_summary=count`)).body
        .total,
    ).toBe(6);
  });

  it('searches by _id with a comma list', async () => {
    const some = matches((await get(clin, `/fhir/R4/Observation?patient=${a}&code=8867-4&category=vital-signs&_count=2`)).body).map((o) => o.id);
    const r = await get(clin, `/fhir/R4/Observation?_id=${some.join(',')}`);
    expect(
      matches(r.body)
        .map((o) => o.id)
        .sort(),
    ).toEqual([...some].sort());
    expect((await get(clin, `/fhir/R4/Patient?_id=${a.replace('_', '-')},${b}`)).body.total).toBe(2);
  });

  it('searches Patients by identifier, name, birthdate and gender', async () => {
    const names = async (q: string) =>
      matches((await get(clin, `/fhir/R4/Patient?${q}`)).body)
        .map((p) => p.name[0].text)
        .sort();
    expect(await names('identifier=MRN-A1')).toEqual(['Alice Ames']);
    expect(await names('identifier=urn:vigil:mrn|MRN-B2')).toEqual(['Bob Brown']);
    expect(await names('identifier=http://other.example|MRN-B2')).toEqual([]);
    expect(await names(`identifier=urn:vigil:patient|${a}`)).toEqual(['Alice Ames']);
    expect(await names('name=ali')).toEqual(['Alice Ames']);
    expect(await names('name=BROWN')).toEqual(['Bob Brown']);
    expect(await names('name=row')).toEqual([]);
    expect(await names('name:contains=row')).toEqual(['Bob Brown']);
    expect(await names('name:exact=Alice')).toEqual(['Alice Ames']);
    expect(await names('name:exact=ali')).toEqual([]);
    expect(await names('name=alice,bob')).toEqual(['Alice Ames', 'Bob Brown']);
    expect(await names('gender=female')).toEqual(['Alice Ames']);
    expect(await names('gender=http://hl7.org/fhir/administrative-gender|male')).toEqual(['Bob Brown']);
    expect(await names('birthdate=1941-03-02')).toEqual(['Alice Ames']);
    expect(await names('birthdate=1941')).toEqual(['Alice Ames']);
    expect(await names('birthdate=lt1945-01-01')).toEqual(['Alice Ames']);
    expect(await names('birthdate=ge1950-07-14')).toEqual(['Bob Brown']);
    expect(await names('birthdate=gt1950-07-14')).toEqual([]); // Cora is not on this clinician's care team
    // An admin sees all three; the clinician never sees Cora.
    expect(
      matches((await get(admin, `/fhir/R4/Patient?birthdate=1950-07`)).body)
        .map((p) => p.name[0].text)
        .sort(),
    ).toEqual(['Bob Brown', 'Cora Cole']);
  });

  it('filters Observations by device and status', async () => {
    expect((await get(clin, `/fhir/R4/Observation?device=Device/${cuff.replace('_', '-')}&_summary=count`)).body.total).toBe(2);
    expect((await get(clin, `/fhir/R4/Observation?device=${ecgDev}&_summary=count`)).body.total).toBe(3);
    expect((await get(clin, `/fhir/R4/Observation?patient=${a}&status=final&code=8480-6&_summary=count`)).body.total).toBe(1);
    expect((await get(clin, `/fhir/R4/Observation?patient=${a}&status=preliminary&_summary=count`)).body.total).toBe(0);
  });

  it('honours _summary, _elements, _total and _include', async () => {
    const el = await get(clin, `/fhir/R4/Observation?patient=${a}&code=8867-4&category=vital-signs&_elements=valueQuantity&_count=1`);
    const r = matches(el.body)[0];
    // The mandatory elements (Observation.status and code, min 1) come too (R4 §3.1.1.5.8 SHOULD).
    expect(Object.keys(r).sort()).toEqual(['code', 'id', 'meta', 'resourceType', 'status', 'valueQuantity']);
    expect(r.meta.tag[0].code).toBe('SUBSETTED');
    // A name that is no element of the type: left out (lenient), a 400 under strict handling.
    const typo = await get(clin, `/fhir/R4/Observation?patient=${a}&_elements=valueQuantity,foo&_count=1`);
    expect(Object.keys(matches(typo.body)[0]).sort()).toEqual(['code', 'id', 'meta', 'resourceType', 'status', 'valueQuantity']);
    const strictTypo = await get<any>(clin, `/fhir/R4/Observation?patient=${a}&_elements=foo`, { prefer: 'handling=strict' });
    expect(strictTypo.status).toBe(400);
    expect(strictTypo.body.issue[0].diagnostics).toMatch(/_elements: foo is not an element of Observation/);
    // A single-valued parameter given twice with different values: refused under strict handling.
    for (const twice of ['_count=5&_count=6', '_sort=date&_sort=-date', '_summary=true&_summary=false', '_total=none&_total=accurate']) {
      const res = await get<any>(clin, `/fhir/R4/Observation?patient=${a}&${twice}`, { prefer: 'handling=strict' });
      expect(res.status).toBe(400);
      expect(res.body.issue[0].diagnostics).toMatch(/given 2 times/);
    }
    const iterate = await get<any>(clin, `/fhir/R4/Observation?patient=${a}&_include:iterate=Observation:patient`, { prefer: 'handling=strict' });
    expect(iterate.status).toBe(400);
    expect(iterate.body.issue[0].diagnostics).toMatch(/_include:iterate is not supported \(only the direct form/);
    const sum = await get(clin, `/fhir/R4/Observation?patient=${a}&code=8867-4&_summary=true&_count=1`);
    expect(matches(sum.body)[0].category).toBeUndefined();
    expect(matches(sum.body)[0].valueQuantity).toBeDefined();
    const noTotal = await get(clin, `/fhir/R4/Observation?patient=${a}&_total=none&_count=1`);
    expect(noTotal.body.total).toBeUndefined();
    expect(noTotal.body.link.find((l) => l.relation === 'next')).toBeDefined();
    const inc = await get(clin, `/fhir/R4/Observation?patient=${a},${b}&code=8867-4&_include=Observation:patient&_count=100`);
    const included = inc.body.entry.filter((e) => e.search.mode === 'include').map((e) => e.resource);
    expect(included.map((p) => p.resourceType)).toEqual(['Patient', 'Patient']);
    expect(included.map((p) => p.name[0].text).sort()).toEqual(['Alice Ames', 'Bob Brown']);
  });

  it('refuses unsupported parameters under handling=strict, and drops them from the self link otherwise', async () => {
    const strict = await get<any>(clin, `/fhir/R4/Observation?patient=${a}&value-quantity=gt100`, { prefer: 'handling=strict' });
    expect(strict.status).toBe(400);
    expect(strict.body.resourceType).toBe('OperationOutcome');
    expect(strict.body.issue[0].diagnostics).toMatch(/value-quantity/);
    const lenient = await get(clin, `/fhir/R4/Observation?patient=${a}&value-quantity=gt100&_count=1`);
    expect(lenient.status).toBe(200);
    const self = lenient.body.link.find((l) => l.relation === 'self')!.url;
    expect(self).not.toMatch(/value-quantity/);
    expect(self).toMatch(/patient=/);
    expect(lenient.body.entry.find((e) => e.search.mode === 'outcome')?.resource.issue[0].diagnostics).toMatch(/value-quantity/);
    expect((await get<any>(clin, `/fhir/R4/Observation?_sort=value`, { prefer: 'handling=strict' })).status).toBe(400);
    expect((await get<any>(clin, `/fhir/R4/Patient?_include=Observation:patient`, { prefer: 'handling=strict' })).status).toBe(400);
    expect((await get<any>(clin, `/fhir/R4/Observation?code:below=8867`)).status).toBe(400);
    expect((await get<any>(clin, `/fhir/R4/Observation?_summary=text`)).status).toBe(400);
    expect((await get<any>(clin, `/fhir/R4/Observation?_offset=10`)).status).toBe(400);
    expect((await get<any>(clin, `/fhir/R4/Observation?_cursor=bm9wZQ`)).status).toBe(400);
  });

  it('pages by cursor without duplicates or gaps while new readings arrive', async () => {
    const p = (await app.services.patientService.create({ name: 'Live Liam' }, 'system')).id;
    const dev = (await app.services.deviceService.provision({ patientId: p, type: 'pulse-oximeter' }, 'system')).id;
    const start = Date.now() - 3600_000;
    let seq = 0;
    for (; seq < 20; seq++) await app.services.ingest.acceptTelemetry(dev, JSON.stringify({ ts: start + seq * 1000, seq: seq + 1, hr: 100 + seq }));
    let page = await get(admin, `/fhir/R4/Observation?patient=${p}&_sort=-date&_count=5`);
    const seen: number[] = [...values(page.body)];
    for (;;) {
      // Eight newer readings land between pages (what broke offset paging).
      for (let k = 0; k < 2; k++, seq++) await app.services.ingest.acceptTelemetry(dev, JSON.stringify({ ts: Date.now(), seq: seq + 1, hr: 200 + seq }));
      const next = page.body.link.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      page = await get(admin, next.replace(app.httpUrl, ''));
      seen.push(...values(page.body));
    }
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => 119 - i));
  });

  it('answers $lastn: the latest of each code for the patient', async () => {
    const last = await get(clin, `/fhir/R4/Observation/$lastn?patient=${a}&category=vital-signs`);
    expect(last.status).toBe(200);
    const byCode = Object.fromEntries(
      matches(last.body).map((o) => [o.code.coding[0].code, o.valueQuantity?.value ?? o.component?.map((c: any) => c.valueQuantity.value)]),
    );
    expect(byCode).toEqual({ '8867-4': 65, '59408-5': 95, '8480-6': 130, '85354-9': [120, 80] });
    const two = await get(clin, `/fhir/R4/Observation/$lastn?patient=${a}&code=8867-4&category=vital-signs&max=2`);
    expect(values(two.body)).toEqual([65, 64]);
    expect((await get<any>(clin, `/fhir/R4/Observation/$lastn?patient=${a}&max=0`)).status).toBe(400);
    expect((await get<any>(clin, `/fhir/R4/Observation/$lastn?patient=${a}&_sort=date`, { prefer: 'handling=strict' })).status).toBe(400);
    // Another patient's latest values stay invisible.
    expect(matches((await get(clin, `/fhir/R4/Observation/$lastn?patient=${c}`)).body)).toEqual([]);
  });

  it('answers Patient/$everything with the patient, devices, care team and paged Observations', async () => {
    const fhirId = a.replace('_', '-');
    const page1 = await get(clin, `/fhir/R4/Patient/${fhirId}/$everything?_count=10`);
    expect(page1.status).toBe(200);
    const types = matches(page1.body).map((r) => r.resourceType);
    expect(types.filter((t) => t === 'Patient')).toHaveLength(1);
    expect(types.filter((t) => t === 'Device')).toHaveLength(3);
    expect(types.filter((t) => t === 'Practitioner')).toHaveLength(1);
    let ids = matches(page1.body)
      .filter((r) => r.resourceType === 'Observation')
      .map((r) => r.id);
    let next = page1.body.link.find((l) => l.relation === 'next')?.url;
    while (next) {
      const page = await get(clin, next.replace(app.httpUrl, ''));
      expect(matches(page.body).every((r) => r.resourceType === 'Observation')).toBe(true);
      ids = ids.concat(matches(page.body).map((r) => r.id));
      next = page.body.link.find((l) => l.relation === 'next')?.url;
    }
    const all = (await get(clin, `/fhir/R4/Observation?patient=${a}&_summary=count`)).body.total;
    expect(new Set(ids).size).toBe(all);
    const ranged = await get(clin, `/fhir/R4/Patient/${fhirId}/$everything?start=2026-11-20&end=2026-11-20&_count=100`);
    expect(
      matches(ranged.body)
        .filter((r) => r.resourceType === 'Observation')
        .every((o) => (o.effectiveDateTime ?? o.effectivePeriod.start).startsWith('2026-11-20')),
    ).toBe(true);
    expect((await get<any>(clin, `/fhir/R4/Patient/${c}/$everything`)).status).toBe(404);
  });

  it('answers not-supported for interactions it does not do, distinct from not-found', async () => {
    const cases: Array<[string, string, number]> = [
      ['PUT', `/fhir/R4/Observation/1`, 405],
      ['PATCH', `/fhir/R4/Patient/${a}`, 405],
      ['DELETE', `/fhir/R4/Patient/${a}`, 405],
      ['PUT', '/fhir/R4/Patient', 405],
      ['DELETE', '/fhir/R4', 501],
      ['GET', `/fhir/R4/Patient/${a}/$summary`, 501],
      ['GET', '/fhir/R4/Observation/$stats', 501],
      ['GET', '/fhir/R4/Patient/x1/$export', 501],
      ['GET', '/fhir/R4/Medication', 404],
      // Found by review: history-type and the system-level interactions answered 404 "not found" or 400.
      ['GET', '/fhir/R4/Patient/_history', 501],
      ['GET', '/fhir/R4/Observation/_history', 501],
      ['GET', '/fhir/R4/_history', 501],
      ['POST', '/fhir/R4/_search', 501],
      ['GET', '/fhir/R4?_type=Patient', 501],
      ['GET', '/fhir/R4/?_type=Patient', 501],
    ];
    for (const [method, url, status] of cases) {
      const body =
        method === 'GET' || method === 'DELETE' ? undefined : JSON.stringify({ resourceType: url.includes('Observation') ? 'Observation' : 'Patient' });
      const res = await fetch(app.httpUrl + url, {
        method,
        headers: { authorization: `Bearer ${clin}`, ...(body ? { 'content-type': 'application/fhir+json' } : {}) },
        body,
      });
      const outcome = (await res.json()) as any;
      expect(res.status, `${method} ${url}`).toBe(status);
      expect(outcome.issue[0].code, `${method} ${url}`).toBe('not-supported');
    }
    const missing = await get<any>(clin, '/fhir/R4/Patient/pat-doesnotexist');
    expect(missing.status).toBe(404);
    expect(missing.body.issue[0].code).toBe('not-found');
    // The route's schema (contracts/fhir.ts) refuses an id outside the FHIR id rule, naming the parameter.
    const bad = await get<any>(clin, '/fhir/R4/Patient/not%20an%20id!');
    expect(bad.status).toBe(400);
    expect(bad.body.resourceType).toBe('OperationOutcome');
    expect(bad.body.issue[0].diagnostics).toContain('params.id');
    const v = await get<any>(clin, `/fhir/R4/Patient/${a.replace('_', '-')}/_history/1`);
    expect(v.body.id).toBe(a.replace('_', '-'));
    expect((await get<any>(clin, `/fhir/R4/Patient/${a.replace('_', '-')}/_history/2`)).status).toBe(404);
    expect((await get<any>(clin, `/fhir/R4/Patient/${a.replace('_', '-')}/_history`)).body.type).toBe('history');
  });

  it("revincludes what points at the page (_revinclude), within the caller's scope", async () => {
    const A = a.replace('_', '-');
    const all = await get(clin, `/fhir/R4/Observation?patient=${A}&_count=1000`);
    const r = await get(clin, `/fhir/R4/Patient?_id=${A}&_revinclude=Observation:patient&_revinclude=Device:patient`);
    const included = r.body.entry.filter((e) => e.search.mode === 'include').map((e) => e.resource);
    expect(
      included
        .filter((x) => x.resourceType === 'Observation')
        .map((x) => x.id)
        .sort(),
    ).toEqual(
      matches(all.body)
        .map((x) => x.id)
        .sort(),
    );
    expect(
      included
        .filter((x) => x.resourceType === 'Device')
        .map((x) => x.id)
        .sort(),
    ).toEqual([oxi, cuff, ecgDev].map((d) => d.replace('_', '-')).sort());
    expect(r.body.link[0].url).toContain('_revinclude=Observation%3Apatient');
    // Every patient the clinician sees, and nothing of anyone else's.
    const both = await get(clin, `/fhir/R4/Patient?_revinclude=Observation:subject`);
    const subjects = new Set(both.body.entry.filter((e) => e.search.mode === 'include').map((e) => e.resource.subject.reference));
    expect([...subjects].sort()).toEqual([`Patient/${A}`, `Patient/${b.replace('_', '-')}`].sort());
    const dev = await get(clin, `/fhir/R4/Device?_id=${oxi.replace('_', '-')}&_revinclude=Observation:device`);
    expect(dev.body.entry.filter((e) => e.search.mode === 'include').every((e) => e.resource.device.reference === `Device/${oxi.replace('_', '-')}`)).toBe(
      true,
    );
    const byDevice = await get(clin, `/fhir/R4/Observation?device=${oxi.replace('_', '-')}&_count=1000`);
    expect(
      dev.body.entry
        .filter((e) => e.search.mode === 'include')
        .map((e) => e.resource.id)
        .sort(),
    ).toEqual(
      matches(byDevice.body)
        .map((x) => x.id)
        .sort(),
    );
    expect(matches(byDevice.body).length).toBeGreaterThanOrEqual(12); // 6 heart rates + 6 SpO2 at least
    // Not declared: refused under strict handling, dropped from self in lenient mode.
    expect((await get(clin, `/fhir/R4/Patient?_revinclude=Observation:performer`, { prefer: 'handling=strict' })).status).toBe(400);
    expect((await get(clin, `/fhir/R4/Patient?_revinclude=Observation:performer`)).body.link[0].url).not.toContain('_revinclude');
  });

  it('links only what it applied: an unknown _elements name is dropped from self and next, and next can be followed', async () => {
    for (const type of ['Observation', 'Patient']) {
      const first = await get(clin, `/fhir/R4/${type}?_elements=bogus&_count=1`);
      expect(first.status).toBe(200);
      const links = first.body.link.map((l: { url: string }) => l.url);
      for (const url of links) expect(url, url).not.toContain('_elements');
      const next = first.body.link.find((l: { relation: string }) => l.relation === 'next')!.url;
      const second = await get(clin, next.replace(app.httpUrl, ''));
      expect(second.status, JSON.stringify(second.body)).toBe(200);
      // Ignored whole: the resources come unsubsetted.
      expect(matches(second.body)[0].meta.tag ?? []).not.toContainEqual(expect.objectContaining({ code: 'SUBSETTED' }));
    }
    const mixed = await get(clin, `/fhir/R4/Observation?patient=${a}&_elements=bogus,status&_sort=bogus&_count=1`);
    for (const l of mixed.body.link) {
      expect(new URL(l.url).searchParams.get('_elements')).toBe('status');
      expect(l.url).not.toContain('_sort');
      expect((await get(clin, l.url.replace(app.httpUrl, ''))).status).toBe(200);
    }
  });

  it('matches a reference to another server with nothing, and one under its own base like the relative one', async () => {
    const pid = a.replace('_', '-');
    const base = (await get(clin, `/fhir/R4/Observation?patient=${pid}&_summary=count`)).body.link[0].url.replace(/\/Observation\?.*$/, '');
    const count = async (q: string) => (await get(clin, `/fhir/R4/${q}&_summary=count`)).body.total;
    const local = await count(`Observation?patient=${pid}`);
    expect(local).toBeGreaterThan(0);
    expect(await count(`Observation?patient=Patient/${pid}`)).toBe(local);
    expect(await count(`Observation?patient=${encodeURIComponent(`${base}/Patient/${pid}`)}`)).toBe(local);
    expect(await count(`Observation?patient=${encodeURIComponent(`http://evil.example/fhir/Patient/${pid}`)}`)).toBe(0);
    expect(await count(`Observation?subject=${encodeURIComponent(`http://evil.example/fhir/Patient/${pid}`)}`)).toBe(0);
    const dev = oxi.replace('_', '-');
    expect(await count(`Observation?device=${encodeURIComponent(`${base}/Device/${dev}`)}`)).toBeGreaterThan(0);
    expect(await count(`Observation?device=${encodeURIComponent(`https://evil.example/fhir/R4/Device/${dev}`)}`)).toBe(0);
    expect(await count(`Device?patient=${encodeURIComponent(`${base}/Patient/${pid}`)}`)).toBe(3);
    expect(await count(`Device?patient=${encodeURIComponent(`http://evil.example/Patient/${pid}`)}`)).toBe(0);
  });

  it('resolves only the canonical form of an id', async () => {
    const hr = matches((await get(clin, `/fhir/R4/Observation?patient=${a}&code=8867-4&category=vital-signs&_count=1`)).body)[0];
    const bp = matches((await get(clin, `/fhir/R4/Observation?patient=${a}&code=http://loinc.org|85354-9`)).body)[0];
    const ecg = matches((await get(clin, `/fhir/R4/Observation?patient=${a}&category=procedure&code=131329&_count=1`)).body)[0];
    for (const id of [hr.id, bp.id, ecg.id]) expect((await get(clin, `/fhir/R4/Observation/${id}`)).status, id).toBe(200);
    const padded = [`0${hr.id}`, bp.id.replace('bp-', 'bp-0'), ecg.id.replace('ecg-', 'ecg-0')];
    for (const id of padded) expect((await get(clin, `/fhir/R4/Observation/${id}`)).status, id).toBe(404);
    expect(matches((await get(clin, `/fhir/R4/Observation?_id=${padded.join(',')}`)).body)).toEqual([]);
    const pid = a.replace('_', '-');
    const hex = `h.${Buffer.from(a, 'utf8').toString('hex')}`;
    expect((await get(clin, `/fhir/R4/Patient/${pid}`)).status).toBe(200);
    expect((await get(clin, `/fhir/R4/Patient/${a}`)).status).toBe(200); // the internal form, accepted on input (docs/fhir.md)
    expect((await get(clin, `/fhir/R4/Patient/${hex}`)).status).toBe(404);
    expect(matches((await get(clin, `/fhir/R4/Patient?_id=${hex}`)).body)).toEqual([]);
    expect((await get(clin, `/fhir/R4/Observation?patient=${hex}&_summary=count`)).body.total).toBe(0);
  });

  it('leaves out empty arrays: a Bundle with no entries has no entry (R4 JSON: arrays are never empty)', async () => {
    const none = await get<any>(clin, `/fhir/R4/Observation?patient=${a}&status=preliminary`);
    expect(none.status).toBe(200);
    expect(none.body).not.toHaveProperty('entry');
    const count = await get<any>(clin, `/fhir/R4/Observation?patient=${a}&_summary=count`);
    expect(count.body).not.toHaveProperty('entry');
    const res = await fetch(app.httpUrl + '/fhir/R4', {
      method: 'POST',
      headers: { authorization: `Bearer ${clin}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Bundle', type: 'batch' }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ resourceType: 'Bundle', type: 'batch-response' });
    // A care team with no patients: a Group with no member element (quantity 0 says it is empty).
    const lone = await app.tokenFor('clinician');
    const group = await get<any>(lone.token, `/fhir/R4/Group/${lone.practitionerId!.replace('_', '-')}`);
    expect(group.status).toBe(200);
    expect(group.body.quantity).toBe(0);
    expect(group.body).not.toHaveProperty('member');
  });

  it('takes far-future and far-past dates (years 9999 and 0001) as bounds', async () => {
    const count = async (q: string) => {
      const r = await get<any>(clin, `/fhir/R4/${q}&_summary=count`);
      expect(r.status, `${q}: ${JSON.stringify(r.body)}`).toBe(200);
      return r.body.total;
    };
    const all = await count(`Observation?patient=${a}`);
    expect(await count(`Observation?patient=${a}&date=9999`)).toBe(0);
    expect(await count(`Observation?patient=${a}&date=le9999-12-31`)).toBe(all);
    expect(await count(`Observation?patient=${a}&date=lt9999-12-31T23:59:59Z`)).toBe(all);
    expect(await count(`Observation?patient=${a}&date=ap9999`)).toBe(0);
    expect(await count(`Observation?patient=${a}&_lastUpdated=le9999-12-31`)).toBe(all);
    expect(await count(`Observation?patient=${a}&date=ge0001-01-01`)).toBe(all);
    expect(await count(`Observation?patient=${a}&date=0001`)).toBe(0);
    expect(await count(`Observation?patient=${a}&date=le0001`)).toBe(0);
    expect(await count(`Patient?birthdate=le9999`)).toBe(2);
    expect(await count(`Patient?birthdate=gt0001-01-01`)).toBe(2);
    expect(await count(`Patient?_lastUpdated=le9999-12-31`)).toBe(2);
    expect(await count(`Device?_lastUpdated=ge0001`)).toBeGreaterThan(0);
  });

  it('matches names case- and accent-insensitively (R4 string search), and :exact exactly', async () => {
    await app.services.patientService.create({ name: 'José Fernández' }, 'system');
    const names = async (q: string) =>
      matches((await get(admin, `/fhir/R4/Patient?${q}`)).body)
        .map((p) => p.name[0].text)
        .sort();
    for (const q of ['name=fernandez', 'name=FERNANDEZ', `name=${encodeURIComponent('Fernández')}`, 'name=jose', 'name:contains=nand'])
      expect(await names(q), q).toEqual(['José Fernández']);
    // Decomposed input (e + combining acute) is the same name.
    expect(await names(`name=${encodeURIComponent('Jose\u0301')}`)).toEqual(['José Fernández']);
    expect(await names('name:exact=Fernandez')).toEqual([]);
    expect(await names(`name:exact=${encodeURIComponent('Fernández')}`)).toEqual(['José Fernández']);
  });

  it('serves metadata without credentials, declaring exactly what search supports', async () => {
    const res = await fetch(app.httpUrl + '/fhir/R4/metadata');
    expect(res.status).toBe(200);
    const cs = (await res.json()) as any;
    const obs = cs.rest[0].resource.find((r: any) => r.type === 'Observation');
    expect(obs.searchParam.map((p: any) => p.name)).toEqual(
      expect.arrayContaining(['patient', 'subject', 'code', 'category', 'date', '_lastUpdated', '_id', 'device', 'status']),
    );
    expect(obs.searchInclude).toContain('Observation:patient');
    expect(obs.supportedProfile).toContain('http://hl7.org/fhir/StructureDefinition/bp');
    // Every declared parameter is accepted under strict handling.
    for (const p of obs.searchParam.filter((p: any) => !p.name.startsWith('_') || ['_id', '_lastUpdated'].includes(p.name))) {
      const value = p.type === 'date' ? 'ge2020-01-01' : p.type === 'reference' ? `Patient/${a}` : 'final';
      const r = await get<any>(clin, `/fhir/R4/Observation?${p.name}=${encodeURIComponent(value)}&_summary=count`, { prefer: 'handling=strict' });
      expect(r.status, p.name).toBe(200);
    }
  });

  it('ignores no declared parameter: a value that matches nothing empties every search that has results (issue 10 audit)', async () => {
    expect((await app.api(clin, 'POST', '/api/v1/appointments', { patientId: a, start: new Date(Date.now() + 86_400_000).toISOString() })).status).toBe(201);
    // A message and a task made from it, so Communication and Task are probed too.
    const thread = await app.api<{ message: { id: string } }>(clin, 'POST', `/api/v1/patients/${a}/threads`, {
      subject: 'Dressing',
      text: 'How is the wound?',
    });
    expect(thread.status).toBe(201);
    expect((await app.api(clin, 'POST', `/api/v1/messages/${thread.body.message.id}/task`, { note: 'Call back' })).status).toBe(201);
    const cap = (
      await get<{ rest: Array<{ resource: Array<{ type: string; searchParam?: Array<{ name: string; type: string }> }> }> }>(admin, '/fhir/R4/metadata')
    ).body;
    // Result controls, not filters: they shape the answer and are tested on their own above.
    const controls = new Set(['_count', '_sort', '_include', '_revinclude', '_elements', '_summary', '_total', '_format', '_pretty', '_type', '_since']);
    const noMatch: Record<string, string> = { date: 'lt1900-01-01', number: 'lt-999999', quantity: 'lt-999999' };
    const tested: string[] = [];
    const empty: string[] = [];
    for (const r of cap.rest[0].resource) {
      const all = await get<Bundle>(admin, `/fhir/R4/${r.type}?_total=accurate`);
      if (all.status !== 200 || !all.body.total) {
        empty.push(r.type); // nothing to narrow here
        continue;
      }
      for (const p of r.searchParam ?? []) {
        if (controls.has(p.name)) continue;
        // Unique per request: an audit entry of an earlier probe names its value as the patient, and AuditEvent?patient= finds it.
        const value = noMatch[p.type] ?? `zz-no-such-value-${tested.length}`;
        const asked = Date.now();
        const res = await get<Bundle>(admin, `/fhir/R4/${r.type}?${p.name}=${encodeURIComponent(value)}&_total=accurate`, { prefer: 'handling=strict' });
        // A 400 (a value of the wrong form, named) is a refusal, not an unfiltered answer; a 200 must be empty,
        // but for the search's own read entry, which an AuditEvent search may already see (it is written as it runs).
        expect([200, 400], `${r.type}?${p.name}=${value}`).toContain(res.status);
        const own = (e: Entry) =>
          e.resource.resourceType === 'AuditEvent' && e.resource.subtype?.[0]?.code === 'read' && Date.parse(e.resource.recorded) >= asked - 5;
        if (res.status === 200)
          expect(
            (res.body.entry ?? []).filter((e) => !own(e)).map((e) => e.resource.id),
            `${r.type}?${p.name}=${value} returned results: the parameter was ignored`,
          ).toEqual([]);
        tested.push(`${r.type}.${p.name}`);
      }
    }
    expect(tested.length, `tested ${tested.join(' ')}; no data for ${empty.join(' ')}`).toBeGreaterThan(25);
    for (const t of ['Observation', 'Patient', 'Device', 'Practitioner', 'Appointment', 'AuditEvent', 'Communication', 'Task']) expect(empty).not.toContain(t);
  });
});
