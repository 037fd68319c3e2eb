/**
 * FHIR Appointment update, vread and _history on the real server (real HTTP, real database; PGlite and, when
 * present, PostgreSQL, so migration 039 runs on both): update with If-Match (412 when stale), what an update
 * may change (the REST API's reschedule and cancel, the description) and what it may not (400/422 naming the
 * element, nothing changed), who may (the service's rules: 404 off the care team, a patient not another's
 * visit), every change recorded as a version whatever path made it (REST, FHIR, a transaction Bundle, the
 * visit room's statements), and a reminder run making none.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootAppOn, type TestApp } from '../../../test/support/app.ts';
import { postgresAvailable } from '../../../test/support/services.ts';
import { createAppointmentReminders } from '../../appointments/reminders.ts';
import { createLogger } from '../../platform/logger.ts';
import { fhirCaller } from '../../../test/support/fhir-call.ts';

const hasPg = await postgresAvailable();
const engines: Array<[string, boolean]> = [['PGlite', false], ...(hasPg ? [['PostgreSQL', true] as [string, boolean]] : [])];

describe.each(engines)('FHIR Appointment update and history on %s', (_engine, onPostgres) => {
  let app: TestApp;
  let clin: string;
  let clinPractitioner: string;
  let other: string;
  let admin: string;
  let patientA: string;
  let patientB: string;
  let a: string;
  let b: string;

  const call = fhirCaller(() => app.httpUrl);
  /** A whole hour, `hours` from now. */
  const at = (hours: number) => new Date(Math.ceil(Date.now() / 3_600_000) * 3_600_000 + hours * 3_600_000).toISOString();
  /** The resource moved to `hours` from now, its length kept. */
  const moveTo = (r: any, hours: number) => ({ ...r, start: at(hours), end: new Date(Date.parse(at(hours)) + 20 * 60_000).toISOString() });
  const book = async (patient: string, start: string, description?: string) => {
    const res = await call(clin, 'POST', '/fhir/R4/Appointment', {
      resourceType: 'Appointment',
      status: 'booked',
      start,
      minutesDuration: 20,
      ...(description ? { description } : {}),
      participant: [
        { actor: { reference: `Patient/${patient.replace('_', '-')}` } },
        { actor: { reference: `Practitioner/${clinPractitioner.replace('_', '-')}` } },
      ],
    });
    expect(res.status).toBe(201);
    return res.body;
  };
  const row = async (fhirId: string) =>
    (
      await app.services.db.query<{ version: number; status: string; start_at: Date }>('SELECT version, status, start_at FROM appointments WHERE id = $1', [
        fhirId.replace('-', '_'),
      ])
    )[0];
  const historyOf = async (fhirId: string, token = clin) => (await call(token, 'GET', `/fhir/R4/Appointment/${fhirId}/_history`)).body;

  beforeAll(async () => {
    app = await bootAppOn({ pg: onPostgres });
    const s = app.services;
    const cl = await app.tokenFor('clinician');
    clin = cl.token;
    clinPractitioner = cl.practitionerId!;
    other = (await app.tokenFor('clinician')).token;
    admin = (await app.tokenFor('admin')).token;
    a = (await s.patientService.create({ name: 'Ada Lovelace' }, 'system')).id;
    b = (await s.patientService.create({ name: 'Bea Brown' }, 'system')).id;
    await s.patientService.assignClinician(a, clinPractitioner, 'system');
    await s.patientService.assignClinician(b, clinPractitioner, 'system');
    patientA = (await app.tokenFor('patient', { patientId: a })).token;
    patientB = (await app.tokenFor('patient', { patientId: b })).token;
  });
  afterAll(async () => app && (await app.stop()));

  it('updates with If-Match (a reschedule is version 2; a stale version is 412), and keeps version 1 for vread and _history', async () => {
    const v1 = await book(a, at(48), 'Review of home BP');
    expect(v1.meta.versionId).toBe('1');
    const v2 = await call(clin, 'PUT', `/fhir/R4/Appointment/${v1.id}`, moveTo(v1, 50), { 'if-match': 'W/"1"' });
    expect(v2.status).toBe(200);
    expect(v2.headers.get('etag')).toBe('W/"2"');
    expect(v2.body).toMatchObject({ meta: { versionId: '2' }, start: at(50), status: 'booked', description: 'Review of home BP' });
    // A second writer who also read version 1 loses: 412, nothing changes.
    const stale = await call(clin, 'PUT', `/fhir/R4/Appointment/${v1.id}`, moveTo(v1, 52), { 'if-match': 'W/"1"' });
    expect(stale.status).toBe(412);
    expect(stale.body.issue[0].diagnostics).toContain('version 2');
    expect(await row(v1.id)).toMatchObject({ version: 2, status: 'booked' });
    expect(new Date((await row(v1.id)).start_at).toISOString()).toBe(at(50));
    // vread of version 1 (the time it was booked for) and of 2; history newest first, POST then PUT.
    const old = await call(clin, 'GET', `/fhir/R4/Appointment/${v1.id}/_history/1`);
    expect(old.status).toBe(200);
    expect(old.headers.get('etag')).toBe('W/"1"');
    expect(old.body).toMatchObject({ start: at(48), meta: { versionId: '1' } });
    expect((await call(clin, 'GET', `/fhir/R4/Appointment/${v1.id}/_history/2`)).body.start).toBe(at(50));
    expect((await call(clin, 'GET', `/fhir/R4/Appointment/${v1.id}/_history/3`)).status).toBe(404);
    // Cancelled through REST: the history has it too (every path records its version).
    expect((await app.api(clin, 'POST', `/api/v1/appointments/${v1.id.replace('-', '_')}/cancel`, { reason: 'Unwell' })).status).toBe(200);
    const h = await historyOf(v1.id);
    expect(h.type).toBe('history');
    expect(h.entry.map((e: any) => [e.resource.meta.versionId, e.request.method, e.resource.status, e.resource.start])).toEqual([
      ['3', 'PUT', 'cancelled', at(50)],
      ['2', 'PUT', 'booked', at(50)],
      ['1', 'POST', 'booked', at(48)],
    ]);
    expect(h.entry[0].resource.cancelationReason).toEqual({ text: 'Unwell' });
    // Who wrote each version (provenance), and the stored bodies are sealed with the patient's key.
    const clinUser = (await app.services.auth.principalFromToken(clin))!.userId;
    const stored = await app.services.db.query<{ version: number; method: string; actor_user_id: string | null; body: Uint8Array }>(
      `SELECT version, method, actor_user_id, body FROM fhir_versions WHERE type = 'Appointment' AND id = $1 ORDER BY version`,
      [v1.id.replace('-', '_')],
    );
    expect(stored.map((r) => [r.version, r.method, r.actor_user_id])).toEqual([
      [1, 'POST', clinUser],
      [2, 'PUT', clinUser],
      [3, 'PUT', clinUser],
    ]);
    for (const r of stored) expect(Buffer.from(r.body).toString('latin1')).not.toContain('Ada');
    // Audited as the REST route audits the same change (with via: fhir for the FHIR one).
    const audit = await app.services.db.query<{ action: string; via: string | null }>(
      `SELECT action, details->>'via' AS via FROM audit_log WHERE entity_id = $1 AND action LIKE 'appointment.%' ORDER BY id`,
      [v1.id.replace('-', '_')],
    );
    expect(audit).toEqual([
      { action: 'appointment.create', via: null },
      { action: 'appointment.reschedule', via: 'fhir' },
      { action: 'appointment.cancel', via: null },
    ]);
  });

  it('cancels with a reason and changes the description by update; an unchanged body is no new version', async () => {
    const v1 = await book(a, at(72), 'First words');
    const same = await call(clin, 'PUT', `/fhir/R4/Appointment/${v1.id}`, v1, { 'if-match': 'W/"1"' });
    expect(same.status).toBe(200);
    expect(same.body.meta.versionId).toBe('1');
    const described = await call(clin, 'PUT', `/fhir/R4/Appointment/${v1.id}`, { ...v1, description: 'Second words' }, { 'if-match': 'W/"1"' });
    expect(described.body).toMatchObject({ meta: { versionId: '2' }, description: 'Second words' });
    const cancelled = await call(
      clin,
      'PUT',
      `/fhir/R4/Appointment/${v1.id}`,
      { ...described.body, status: 'cancelled', cancelationReason: { text: 'Patient in hospital' } },
      { 'if-match': 'W/"2"' },
    );
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ meta: { versionId: '3' }, status: 'cancelled', cancelationReason: { text: 'Patient in hospital' } });
    expect((await historyOf(v1.id)).entry.map((e: any) => [e.resource.meta.versionId, e.resource.status, e.resource.description])).toEqual([
      ['3', 'cancelled', 'Second words'],
      ['2', 'booked', 'Second words'],
      ['1', 'booked', 'First words'],
    ]);
    expect((await call(clin, 'GET', `/fhir/R4/Appointment/${v1.id}/_history/1`)).body.description).toBe('First words');
  });

  it('records the visit room’s status changes (arrived, fulfilled) as versions', async () => {
    const v1 = await book(a, at(3));
    const id = v1.id.replace('-', '_');
    // The statements the visit room runs when staff and the patient meet, and when the room empties.
    await app.services.appointmentsRepo.setStatus(id, 'arrived', null);
    await app.services.appointmentsRepo.fulfil(id);
    expect((await historyOf(v1.id)).entry.map((e: any) => [e.resource.meta.versionId, e.resource.status])).toEqual([
      ['3', 'fulfilled'],
      ['2', 'arrived'],
      ['1', 'booked'],
    ]);
    // A fulfilled visit is not moved or cancelled by update either (the service's rules): 409, no version.
    const current = (await call(clin, 'GET', `/fhir/R4/Appointment/${v1.id}`)).body;
    expect((await call(clin, 'PUT', `/fhir/R4/Appointment/${v1.id}`, { ...current, status: 'cancelled' })).status).toBe(409);
    expect((await row(v1.id)).version).toBe(3);
  });

  it('a reminder run (claimed, given back after a failed send, claimed and sent) makes no version', async () => {
    const v1 = await book(a, at(1));
    const id = v1.id.replace('-', '_');
    const s = app.services;
    const logger = createLogger('silent');
    const reminders = (send: () => Promise<void>) =>
      createAppointmentReminders({ db: s.db, repo: s.appointmentsRepo, audit: s.audit, send, baseUrl: () => app.httpUrl, logger, leadS: 3 * 3600 });
    await reminders(() => Promise.reject(new Error('SMTP down'))).run(Date.now());
    let sent = 0;
    await reminders(async () => void sent++).run(Date.now());
    expect(sent).toBeGreaterThan(0);
    const [r] = await s.db.query<{ version: number; reminded: boolean; updated_at: Date | null }>(
      'SELECT version, reminder_sent_at IS NOT NULL AS reminded, updated_at FROM appointments WHERE id = $1',
      [id],
    );
    expect(r).toMatchObject({ version: 1, reminded: true, updated_at: null });
    const read = await call(clin, 'GET', `/fhir/R4/Appointment/${v1.id}`);
    expect(read.headers.get('etag')).toBe('W/"1"');
    expect(read.body.meta.lastUpdated).toBe(v1.meta.lastUpdated);
    expect((await historyOf(v1.id)).entry).toHaveLength(1);
    // A reschedule still is a version, and clears the mark (the moved visit is reminded again).
    const moved = await call(clin, 'PUT', `/fhir/R4/Appointment/${v1.id}`, moveTo(v1, 2), { 'if-match': 'W/"1"' });
    expect(moved.body.meta.versionId).toBe('2');
    expect((await s.db.query('SELECT 1 FROM appointments WHERE id = $1 AND reminder_sent_at IS NULL', [id])).length).toBe(1);
  });

  it('refuses what only the care team or the patient themself may do: 404 off the care team, 404 for another patient', async () => {
    const v1 = await book(a, at(96));
    const moved = moveTo(v1, 97);
    for (const [token, who] of [
      [other, 'a clinician not on the care team'],
      [patientB, 'another patient'],
    ] as const) {
      const res = await call(token, 'PUT', `/fhir/R4/Appointment/${v1.id}`, moved, { 'if-match': 'W/"1"' });
      expect(res.status, who).toBe(404);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expect((await call(token, 'GET', `/fhir/R4/Appointment/${v1.id}/_history`)).status, who).toBe(404);
      expect((await call(token, 'GET', `/fhir/R4/Appointment/${v1.id}/_history/1`)).status, who).toBe(404);
    }
    // The patient themself sees the history; they move a visit only to a free slot of their clinician (as on REST).
    expect((await historyOf(v1.id, patientA)).entry).toHaveLength(1);
    const own = await call(patientA, 'PUT', `/fhir/R4/Appointment/${v1.id}`, moved, { 'if-match': 'W/"1"' });
    expect(own.status).toBe(400);
    expect(own.body.issue[0].diagnostics).toContain('free slot');
    expect(await row(v1.id)).toMatchObject({ version: 1 });
    // An admin may (as on REST).
    expect((await call(admin, 'PUT', `/fhir/R4/Appointment/${v1.id}`, moved, { 'if-match': 'W/"1"' })).status).toBe(200);
  });

  it('refuses a malformed body or a change an update cannot make, naming the element, and changes nothing', async () => {
    const v1 = await book(a, at(120));
    const cases: Array<[unknown, number, string, Record<string, string>?]> = [
      [{ ...v1, start: 'tomorrow' }, 400, 'Appointment.start'],
      [{ ...v1, start: '2026-12-01T09:00:00' }, 400, 'Appointment.start'],
      [{ ...v1, end: undefined }, 400, 'Appointment.end'],
      [{ ...v1, minutesDuration: 'long' }, 400, 'Appointment.minutesDuration'],
      [{ ...v1, minutesDuration: 45 }, 422, 'Appointment.minutesDuration'],
      [{ ...v1, participant: 'Ada' }, 400, 'Appointment.participant'],
      [{ ...v1, participant: [{ actor: { reference: `Patient/${b.replace('_', '-')}` } }, v1.participant[1]] }, 422, 'Appointment.participant'],
      [{ ...v1, status: 'fulfilled' }, 422, 'Appointment.status'],
      [{ ...v1, status: undefined }, 400, 'Appointment.status'],
      [{ ...v1, cancelationReason: { text: 'because' } }, 422, 'Appointment.cancelationReason'],
      [{ ...v1, status: 'cancelled', cancelationReason: 'because' }, 400, 'Appointment.cancelationReason'],
      [{ ...moveTo(v1, 121), status: 'cancelled' }, 422, 'Appointment.start'],
      [{ ...v1, comment: 'Bring the cuff' }, 422, 'Appointment.comment'],
      [{ ...v1, serviceType: [{ text: 'Telephone/audio visit' }] }, 422, 'Appointment.serviceType'],
      [{ ...v1, description: 42 }, 400, 'Appointment.description'],
      [{ ...v1, id: 'apt-other' }, 400, 'Appointment.id'],
      [{ ...v1, resourceType: 'Patient' }, 400, 'not a Appointment'],
      [moveTo(v1, 24 * 400), 400, 'more than a year ahead'],
      [moveTo(v1, 121), 400, 'If-Match', { 'if-match': 'yesterday' }],
    ];
    for (const [body, status, says, headers] of cases) {
      const res = await call(clin, 'PUT', `/fhir/R4/Appointment/${v1.id}`, body, headers ?? { 'if-match': 'W/"1"' });
      expect(res.status, says).toBe(status);
      expect(res.body.resourceType, says).toBe('OperationOutcome');
      expect(res.body.issue[0].diagnostics, says).toContain(says);
    }
    expect(await row(v1.id)).toMatchObject({ version: 1, status: 'booked' });
    expect((await historyOf(v1.id)).entry).toHaveLength(1);
  });

  it('two writers racing on the same version: one 200, one 412, one new version', async () => {
    const v1 = await book(a, at(160));
    const results = await Promise.all([162, 164].map((h) => call(clin, 'PUT', `/fhir/R4/Appointment/${v1.id}`, moveTo(v1, h), { 'if-match': 'W/"1"' })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
    expect(await row(v1.id)).toMatchObject({ version: 2 });
    expect((await historyOf(v1.id)).entry.map((e: any) => e.resource.meta.versionId)).toEqual(['2', '1']);
  });

  it('updates inside a transaction Bundle, all or nothing', async () => {
    const v1 = await book(a, at(150));
    const put = (resource: any, ifMatch = 'W/"1"') => ({ resource, request: { method: 'PUT', url: `Appointment/${resource.id}`, ifMatch } });
    const moved = moveTo(v1, 151);
    // With a refused entry (a Patient update naming another id), nothing is written.
    const refused = await call(clin, 'POST', '/fhir/R4', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        put(moved),
        { resource: { resourceType: 'Patient', id: 'pat-x', name: [{ text: 'X' }] }, request: { method: 'PUT', url: `Patient/${a.replace('_', '-')}` } },
      ],
    });
    expect(refused.status).toBe(400);
    expect(await row(v1.id)).toMatchObject({ version: 1 });
    const ok = await call(clin, 'POST', '/fhir/R4', { resourceType: 'Bundle', type: 'transaction', entry: [put(moved)] });
    expect(ok.status).toBe(200);
    expect(ok.body.entry[0].response.status).toBe('200 OK');
    expect(ok.body.entry[0].resource).toMatchObject({ meta: { versionId: '2' }, start: at(151) });
    expect((await historyOf(v1.id)).entry.map((e: any) => e.resource.start)).toEqual([at(151), at(150)]);
  });

  it('declares vread, history-instance and update for Appointment in the CapabilityStatement', async () => {
    const cs = (await call(admin, 'GET', '/fhir/R4/metadata')).body;
    const appt = cs.rest[0].resource.find((r: any) => r.type === 'Appointment');
    expect(appt.interaction.map((i: any) => i.code)).toEqual(['read', 'vread', 'search-type', 'history-instance', 'create', 'update']);
    expect(appt.readHistory).toBe(true);
    expect(appt.updateCreate).toBe(false);
  });
});
