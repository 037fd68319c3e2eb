/**
 * The read audit of a FHIR Observation search is started once the search is authorised, so its commit overlaps
 * the query (read-audit.ts auditReadNow): still exactly one entry per read, committed before the answer, with the
 * outcome the client got; a search refused before it is authorised gets its failure entry only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../test/support/app.ts';

describe('read audit of FHIR searches (entry started while the query runs)', () => {
  let app: TestApp;
  let token: string;
  let patient: string;
  const entries = (patientId: string) =>
    app.services.db.query<{ action: string; outcome: string; details: { status: number; query?: string } }>(
      `SELECT action, outcome, details FROM audit_log WHERE entity_type = '/fhir/R4/:type' AND patient_id = $1 ORDER BY id`,
      [patientId],
    );

  beforeAll(async () => {
    app = await bootApp();
    token = (await app.tokenFor('admin')).token;
    patient = (await app.services.patientService.create({ name: 'Rita Read' }, 'system')).id;
  });
  afterAll(async () => app && (await app.stop()));

  it('writes one read entry per search, durable when the answer arrives, and a refused search only its failure', async () => {
    const search = (q: string) => fetch(`${app.httpUrl}/fhir/R4/Observation?patient=${patient}${q}`, { headers: { authorization: `Bearer ${token}` } });
    for (let i = 0; i < 3; i++) {
      const res = await search('&_count=5');
      expect(res.status).toBe(200);
      // No waiting: the entry is committed before the answer is sent.
      expect(await entries(patient)).toHaveLength(i + 1);
    }
    expect((await entries(patient)).map((e) => [e.action, e.outcome, e.details.status])).toEqual([
      ['read', 'success', 200],
      ['read', 'success', 200],
      ['read', 'success', 200],
    ]);
    const bad = await search('&date=not-a-date');
    expect(bad.status).toBe(400);
    const after = await entries(patient);
    expect(after).toHaveLength(4);
    expect([after[3].action, after[3].outcome, after[3].details.status]).toEqual(['read', 'failure', 400]);
    await app.services.audit.flush();
    expect((await app.services.audit.verify()).bad).toEqual([]);
  });
});
