/**
 * Observation create refuses what it would otherwise guess, change or drop (an independent tester's findings):
 * a quantity without a UCUM system and code, another unit system, a status other than final, a period, two
 * effective[x], duplicate or unexpected components, another server's or a contained subject. Each is a 422
 * OperationOutcome naming the problem, directly, in a batch and in a transaction, and nothing is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../../test/support/app.ts';
import { fhirCaller } from '../../../../test/support/fhir-call.ts';

describe('FHIR Observation create: nothing guessed, changed or dropped', () => {
  let app: TestApp;
  let clin: string;
  let a: string;
  let aFhir: string;
  let oxi: string;
  let base: string;
  const call = fhirCaller(() => app.httpUrl);
  const at = () => new Date(Date.now() - 60_000).toISOString();
  const LOINC = 'http://loinc.org';
  const UCUM = 'http://unitsofmeasure.org';
  const obs = (code: string, extra: Record<string, unknown> = {}) => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: LOINC, code }] },
    subject: { reference: `Patient/${aFhir}` },
    effectiveDateTime: at(),
    ...extra,
  });
  const q = (value: number, code: string) => ({ value, unit: code, system: UCUM, code });
  const hr = (extra: Record<string, unknown> = {}) => obs('8867-4', { valueQuantity: q(72, '/min'), ...extra });
  const part = (code: string, value: number) => ({ code: { coding: [{ system: LOINC, code }] }, valueQuantity: q(value, 'mm[Hg]') });
  const bp = (component: unknown[], extra: Record<string, unknown> = {}) => obs('85354-9', { component, ...extra });
  /** Stored readings of the patient, and what a FHIR search counts: both must stay as they were. */
  const counts = async () => ({
    rows: Number((await app.services.db.query<{ n: string }>('SELECT count(*) AS n FROM readings WHERE patient_id = $1', [a]))[0].n),
    fhir: (await call(clin, 'GET', `/fhir/R4/Observation?patient=${aFhir}&_summary=count`)).body.total,
  });

  beforeAll(async () => {
    app = await bootApp();
    const s = app.services;
    const cl = await app.tokenFor('clinician');
    clin = cl.token;
    a = (await s.patientService.create({ name: 'Quinn Quantity' }, 'system')).id;
    aFhir = a.replace('_', '-');
    await s.patientService.assignClinician(a, cl.practitionerId!, 'system');
    oxi = (await s.deviceService.provision({ patientId: a, type: 'pulse-oximeter' }, 'system')).id;
    base = (await call(clin, 'GET', '/fhir/R4/metadata')).body.implementation.url;
  });
  afterAll(async () => app && (await app.stop()));

  const bad: Array<[string, () => unknown, string]> = [
    ['no unit (weight)', () => obs('29463-7', { valueQuantity: { value: 150 } }), 'valueQuantity.system is missing'],
    ['no unit (heart rate)', () => obs('8867-4', { valueQuantity: { value: 150 } }), 'valueQuantity.system is missing'],
    ['unit text only', () => obs('29463-7', { valueQuantity: { value: 150, unit: 'kg' } }), 'valueQuantity.system is missing'],
    ['code without system', () => obs('29463-7', { valueQuantity: { value: 150, code: 'kg' } }), 'valueQuantity.system is missing'],
    ['UCUM without code', () => obs('29463-7', { valueQuantity: { value: 150, unit: 'kg', system: UCUM } }), 'valueQuantity.code is missing'],
    [
      'another unit system',
      () => obs('29463-7', { valueQuantity: { value: 150, system: 'http://example.org/units', code: 'kg' } }),
      'valueQuantity.system "http://example.org/units" is not UCUM',
    ],
    ['a comparator', () => hr({ valueQuantity: { ...q(72, '/min'), comparator: '<' } }), 'comparator is not supported'],
    ['status amended', () => hr({ status: 'amended' }), 'status "amended" cannot be kept'],
    ['status corrected', () => hr({ status: 'corrected' }), 'accepted: final'],
    ['no status', () => hr({ status: undefined }), 'status is missing'],
    [
      'a 2-hour period',
      () => hr({ effectiveDateTime: undefined, effectivePeriod: { start: '2026-11-20T08:00:00Z', end: '2026-11-20T10:00:00Z' } }),
      'send effectiveDateTime',
    ],
    ['a period without an end', () => hr({ effectiveDateTime: undefined, effectivePeriod: { start: '2026-11-20T08:00:00Z' } }), 'point measurement'],
    [
      'effectiveDateTime and effectivePeriod',
      () => hr({ effectivePeriod: { start: '2026-11-20T08:00:00Z', end: '2026-11-20T08:00:00Z' } }),
      'effectiveDateTime and effectivePeriod are both present',
    ],
    ['two value[x]', () => hr({ valueString: '72' }), 'valueQuantity and valueString are both present'],
    ['duplicate BP component', () => bp([part('8480-6', 120), part('8480-6', 150), part('8462-4', 80)]), '8480-6 appears more than once'],
    ['other BP component', () => bp([part('8480-6', 120), part('8462-4', 80), part('8478-0', 93)]), 'component[2] http://loinc.org|8478-0 is not kept'],
    [
      'BP value outside components',
      () => bp([part('8480-6', 120), part('8462-4', 80)], { valueQuantity: q(120, 'mm[Hg]') }),
      'carries its values in component',
    ],
    [
      'BP component without UCUM',
      () => bp([part('8480-6', 120), { ...part('8462-4', 80), valueQuantity: { value: 80, unit: 'mmHg' } }]),
      'component[1].valueQuantity.system is missing',
    ],
    ['component on heart rate', () => hr({ component: [part('8480-6', 120)] }), 'component is not kept for Heart rate'],
    ['another server’s subject', () => hr({ subject: { reference: `http://evil.example/fhir/Patient/${aFhir}` } }), 'is not on this server'],
    ['another server’s device', () => hr({ device: { reference: `http://evil.example/fhir/Device/${oxi}` } }), 'is not on this server'],
    ['own base, wrong type path', () => hr({ subject: { reference: `${base}/Group/${aFhir}` } }), 'R4/Patient/{id}'],
    [
      'contained subject',
      () =>
        hr({
          contained: [{ resourceType: 'Patient', id: 'p1', name: [{ text: 'Quinn Quantity' }] }],
          subject: { reference: '#p1' },
        }),
      'contained resources are not supported',
    ],
    ['#ref without contained', () => hr({ subject: { reference: '#p1' } }), 'contained resources are not supported'],
  ];

  it.each(bad)('refuses %s with a 422 naming it, storing nothing', async (_, body, says) => {
    const before = await counts();
    const res = await call(clin, 'POST', '/fhir/R4/Observation', body());
    expect(res.status).toBe(422);
    expect(res.body.resourceType).toBe('OperationOutcome');
    expect(res.body.issue[0].diagnostics).toContain(says);
    expect(await counts()).toEqual(before);
  });

  it('refuses them inside a batch (per entry) and a transaction (all of it), storing nothing', async () => {
    const before = await counts();
    const entries = bad.map(([, body]) => ({ resource: body(), request: { method: 'POST', url: 'Observation' } }));
    const batch = await call(clin, 'POST', '/fhir/R4', { resourceType: 'Bundle', type: 'batch', entry: entries });
    expect(batch.status).toBe(200);
    batch.body.entry.forEach((e: any, i: number) => {
      expect(e.response.status, bad[i][0]).toMatch(/^422/);
      expect(e.response.outcome.issue[0].diagnostics, bad[i][0]).toContain(bad[i][2]);
    });
    for (const [name, body, says] of bad) {
      const tx = await call(clin, 'POST', '/fhir/R4', {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { resource: hr(), request: { method: 'POST', url: 'Observation' } },
          { resource: body(), request: { method: 'POST', url: 'Observation' } },
        ],
      });
      expect(tx.status, name).toBe(422);
      expect(tx.body.issue[0].diagnostics, name).toContain(says);
    }
    expect(await counts()).toEqual(before);
  });

  it('still takes what is plainly stated: UCUM quantities, a reference on its own base, an instant as a zero-length period', async () => {
    const before = await counts();
    const weight = await call(clin, 'POST', '/fhir/R4/Observation', obs('29463-7', { valueQuantity: { value: 154, system: UCUM, code: '[lb_av]' } }));
    expect(weight.status).toBe(201);
    expect(weight.body.valueQuantity).toMatchObject({ system: UCUM, code: 'kg' });
    expect(weight.body.valueQuantity.value).toBeCloseTo(69.85, 1);
    const own = await call(
      clin,
      'POST',
      '/fhir/R4/Observation',
      hr({ subject: { reference: `${base}/Patient/${aFhir}` }, device: { reference: `${base}/Device/${oxi}` } }),
    );
    expect(own.status).toBe(201);
    expect(own.body.subject.reference).toBe(`Patient/${aFhir}`);
    const when = at();
    const instant = await call(clin, 'POST', '/fhir/R4/Observation', hr({ effectiveDateTime: undefined, effectivePeriod: { start: when, end: when } }));
    expect(instant.status).toBe(201);
    expect(instant.body.effectiveDateTime).toBe(when);
    const panel = await call(clin, 'POST', '/fhir/R4/Observation', bp([part('8480-6', 121), part('8462-4', 79)]));
    expect(panel.status).toBe(201);
    expect(await counts()).toEqual({ rows: before.rows + 5, fhir: before.fhir + 4 });
  });
});
