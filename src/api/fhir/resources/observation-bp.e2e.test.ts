/**
 * Blood pressure in Observation search when the search itself decides whether any BP reading matches
 * (observation.store.ts BpMode 'probe'): a patient's first BP pair arriving after searches that found none is
 * served as one panel at once (no stale "no BP" remembered), and later searches, which take the full statement
 * straight away, answer the same. Page, total, `_summary=count` and `_total=none` agree. Real app, on PGlite and
 * on PostgreSQL (where the search statements are named prepared statements with generic plans, platform/db.ts).
 * A pair is a panel only when stored together: an id once served never vanishes into a panel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootApp, type TestApp } from '../../../../test/support/app.ts';
import { createTestDatabase, postgresAvailable } from '../../../../test/support/services.ts';

type Bundle = { total?: number; entry?: Array<{ resource: { id: string; code: { coding: Array<{ code: string }> } } }> };

const engines = (await postgresAvailable()) ? ['pglite', 'postgres'] : ['pglite'];

describe.each(engines)('Observation search: blood pressure decided in the search statement (%s)', (engine) => {
  let app: TestApp;
  let dropDb: (() => Promise<void>) | undefined;
  let token: string;
  let patient: string;
  let cuff: string;
  const t0 = Date.parse('2026-11-20T10:00:00Z');

  const search = async (query: string) => {
    const res = await fetch(`${app.httpUrl}/fhir/R4/Observation?patient=${patient}&${query}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as Bundle;
  };
  const ids = (b: Bundle) => (b.entry ?? []).map((e) => e.resource.id);
  const codes = (b: Bundle) => (b.entry ?? []).map((e) => e.resource.code.coding[0].code).sort();

  beforeAll(async () => {
    const pg = engine === 'postgres' ? await createTestDatabase() : null;
    dropDb = pg?.drop;
    app = await bootApp(pg ? { databaseUrl: pg.url } : {});
    const s = app.services;
    patient = (await s.patientService.create({ name: 'Bea Blood' }, 'system')).id;
    token = (await app.tokenFor('admin')).token;
    const oxi = (await s.deviceService.provision({ patientId: patient, type: 'pulse-oximeter' }, 'system')).id;
    cuff = (await s.deviceService.provision({ patientId: patient, type: 'bp-cuff' }, 'system')).id;
    for (let i = 0; i < 3; i++) expect((await s.ingest.acceptTelemetry(oxi, JSON.stringify({ ts: t0 + i * 60_000, seq: i + 1, hr: 60 + i }))).ok).toBe(true);
  });
  afterAll(async () => {
    await app?.stop();
    await dropDb?.();
  });

  it('finds no BP, then serves a newly arrived pair as one panel, the same on every later search', async () => {
    const before = await search('_sort=-date');
    expect(before.total).toBe(3);
    expect(codes(before)).toEqual(['8867-4', '8867-4', '8867-4']);

    // The first BP pair arrives (same instant, same device: one panel), and a lone systolic a minute later.
    expect((await app.services.ingest.acceptTelemetry(cuff, JSON.stringify({ ts: t0 + 300_000, seq: 1, sbp: 120, dbp: 80 }))).ok).toBe(true);
    expect((await app.services.ingest.acceptTelemetry(cuff, JSON.stringify({ ts: t0 + 360_000, seq: 2, sbp: 131 }))).ok).toBe(true);

    for (let round = 0; round < 2; round++) {
      const all = await search('_sort=-date');
      expect(all.total).toBe(5);
      expect(codes(all)).toEqual(['8480-6', '85354-9', '8867-4', '8867-4', '8867-4']);
      expect(ids(all).filter((id) => id.startsWith('bp-'))).toHaveLength(1);
      expect((await search('_summary=count')).total).toBe(5);
      const noTotal = await search('_sort=-date&_total=none');
      expect(noTotal.total).toBeUndefined();
      expect(ids(noTotal)).toEqual(ids(all));
      // Paged two at a time, the same five in the same order.
      const paged: string[] = [];
      let next: string | undefined = `${app.httpUrl}/fhir/R4/Observation?patient=${patient}&_sort=-date&_count=2`;
      while (next) {
        const res = await fetch(next, { headers: { authorization: `Bearer ${token}` } });
        const page = (await res.json()) as Bundle & { link: Array<{ relation: string; url: string }> };
        paged.push(...ids(page));
        next = page.link.find((l) => l.relation === 'next')?.url;
      }
      expect(paged).toEqual(ids(all));
    }
  });

  it('never turns an Observation it served into part of a panel: a partner stored later stays a reading of its own', async () => {
    const at = t0 + 420_000;
    expect((await app.services.ingest.acceptTelemetry(cuff, JSON.stringify({ ts: at, seq: 3, sbp: 140 }))).ok).toBe(true);
    const lone = ids(await search(`date=${new Date(at).toISOString()}`));
    expect(lone).toHaveLength(1);
    expect(lone[0]).toMatch(/^\d+$/);
    // The diastolic of the same instant arrives in a message of its own (a cuff that sends them apart, a re-send).
    expect((await app.services.ingest.acceptTelemetry(cuff, JSON.stringify({ ts: at, seq: 4, dbp: 90 }))).ok).toBe(true);
    const read = await fetch(`${app.httpUrl}/fhir/R4/Observation/${lone[0]}`, { headers: { authorization: `Bearer ${token}` } });
    expect(read.status).toBe(200); // it was a 404 once the pair was served as bp-<id>
    const after = await search(`date=${new Date(at).toISOString()}&_sort=_lastUpdated`);
    expect(ids(after)[0]).toBe(lone[0]);
    expect(codes(after)).toEqual(['8462-4', '8480-6']);
    expect((await search(`date=${new Date(at).toISOString()}&_summary=count`)).total).toBe(2);
  });

  it('a search whose codes include no BP is not changed by the BP readings', async () => {
    const hr = await search('code=8867-4&_sort=date');
    expect(hr.total).toBe(3);
    expect(codes(hr)).toEqual(['8867-4', '8867-4', '8867-4']);
  });
});
