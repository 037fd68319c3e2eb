/**
 * A visit's home instance killed with SIGKILL (no shutdown, no goodbye): two real `vigil start` processes on one
 * PostgreSQL, the clinician's signalling socket on A (the home) and the patient's on B. After A dies, B notices
 * the silent home (no heartbeat for 15 s), closes the patient's socket so the client reconnects, and the visit
 * continues with B as its home: waiting room, admission and signalling work again. Last, the home is killed with
 * people in the room and nobody reconnects: another instance ends the visit once the rejoin window has passed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bootApp, type TestApp } from './support/app.ts';
import { createTestDatabase, postgresAvailable, skipNote } from './support/services.ts';
import { startServerProcess, type ServerProcess } from './support/server-process.ts';
import { expectEventually } from './support/clinic.ts';
import { VisitClient } from './support/visit-client.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (visit home killed with SIGKILL)');

describe.skipIf(!hasPg)('a visit survives its home instance being killed', () => {
  let setup: TestApp;
  let a: ServerProcess;
  let b: ServerProcess;
  let drop: () => Promise<void>;
  const dirs: string[] = [];
  const clients: VisitClient[] = [];
  let apt: string;
  let nurse: string;
  let patient: string;
  let start: () => Promise<ServerProcess>;
  let c: ServerProcess | undefined;
  let d: ServerProcess | undefined;
  let doc2: VisitClient;
  const ws = (p: ServerProcess, token: string) => {
    const c = new VisitClient(`${p.url.replace('http', 'ws')}/api/v1/visits/${apt}/signal?token=${token}`);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    const masterKey = randomBytes(32).toString('base64'); // one deployment: one master key
    setup = await bootApp({ databaseUrl: db.url, env: { VIGIL_MQTT_PORT: '0', VIGIL_MASTER_KEY: masterKey } });
    const s = setup.services;
    const alice = (await s.patientService.create({ name: 'Alice Ames' }, 'system')).id;
    const n = await setup.tokenFor('clinician');
    await s.patientService.assignClinician(alice, n.practitionerId!, 'system');
    nurse = n.token;
    patient = (await setup.tokenFor('patient', { patientId: alice })).token;
    apt = (await setup.api<{ id: string }>(nurse, 'POST', '/api/v1/appointments', { patientId: alice, start: 'now' })).body.id;
    start = async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-visit-kill-'));
      dirs.push(dir);
      // The rejoin window (2 min by default) shortened: the last test waits it out after killing a home.
      return startServerProcess({ VIGIL_DATA_DIR: dir, DATABASE_URL: db.url, VIGIL_MQTT_PORT: '0', VIGIL_MASTER_KEY: masterKey, VIGIL_VISIT_REJOIN_S: '30' });
    };
    a = await start();
    b = await start();
  }, 240_000);
  afterAll(async () => {
    clients.forEach((c) => c.ws.close());
    await a?.kill();
    await b?.kill();
    await c?.kill();
    await d?.kill();
    await setup?.stop();
    await drop?.();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('relays while A is home, then B takes the visit over after A is killed', async () => {
    const doc = ws(a, nurse);
    await doc.next('hello');
    const pat = ws(b, patient);
    await pat.next('hello');
    pat.send({ type: 'join' });
    await pat.next('waiting-room');
    doc.send({ type: 'join' });
    const w = await doc.next('waiting', (m) => (m.waiting as unknown[]).length === 1);
    doc.send({ type: 'admit', id: (w.waiting as Array<{ id: string }>)[0].id });
    const secret = (await pat.next('admitted')).rejoin as string;
    pat.send({ type: 'signal', to: doc.id, data: { sdp: { type: 'offer', sdp: 'before' } } });
    expect(await doc.next('signal')).toMatchObject({ from: pat.id });
    const homeBefore = (await setup.services.db.query<{ instance_id: string }>('SELECT instance_id FROM visit_room_homes WHERE appointment_id = $1', [apt]))[0]
      .instance_id;

    await a.kill('SIGKILL');
    // B sees the home fall silent (15 s without a heartbeat, checked every 5 s) and sends the patient to reconnect.
    await expectEventually(() => expect(pat.closed?.code).toBe(1012), 40_000);

    doc2 = ws(b, nurse);
    const pat2 = ws(b, patient);
    await doc2.next('hello');
    await pat2.next('hello');
    doc2.send({ type: 'join' });
    await doc2.next('admitted');
    // The new home gave everyone the dead home knew in the visit the rejoin window from now (found by review: without
    // it their saved secrets were good for as long as the visit went on elsewhere).
    const saved = await setup.services.db.query<{ until: Date | null }>('SELECT until FROM visit_rejoin WHERE appointment_id = $1', [apt]);
    // One row per admission (migration 044): the patient's and the nurse's on A, with the window now, and the nurse's
    // new one on B (NULL: in the visit).
    expect(saved.map((r) => r.until === null).sort()).toEqual([false, false, true]);
    // The patient's app comes back with its admission's secret: straight in, though the home that admitted it is dead.
    pat2.send({ type: 'join', rejoin: secret });
    await pat2.next('admitted');
    pat2.send({ type: 'signal', to: doc2.id, data: { sdp: { type: 'offer', sdp: 'after' } } });
    expect(await doc2.next('signal')).toMatchObject({ from: pat2.id, data: { sdp: { sdp: 'after' } } });
    const homeAfter = (await setup.services.db.query<{ instance_id: string }>('SELECT instance_id FROM visit_room_homes WHERE appointment_id = $1', [apt]))[0]
      .instance_id;
    expect(homeAfter).not.toBe(homeBefore);
  }, 120_000);

  it('lets go of the participants relayed by an instance that is killed, so the room and the record stay true', async () => {
    // B is the home now; a third instance C relays a second device of the patient (say, a tablet).
    c = await start();
    const tablet = ws(c, patient);
    await tablet.next('hello');
    tablet.send({ type: 'join' });
    const w = await doc2.next('waiting', (m) => (m.waiting as Array<{ id: string }>).some((x) => x.id === tablet.id));
    expect(w).toBeTruthy();
    doc2.send({ type: 'admit', id: tablet.id });
    await tablet.next('admitted');
    await c.kill('SIGKILL');
    // Before: the home kept the tablet "in the room" for good (no close mail comes from a killed instance).
    await expectEventually(() => expect(doc2.seen.some((m) => m.type === 'peer-left' && m.id === tablet.id)).toBe(true), 40_000);
    const left = await setup.services.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'visit.leave' AND entity_id = $1`, [
      apt,
    ]);
    expect(left[0].n).toBeGreaterThan(0);
  }, 120_000);

  it('a home killed with the visit in progress, and nobody back: another instance ends it after the rejoin window (found by review: open for good)', async () => {
    // B is the home, with the clinician and the patient in the room (above); D is another instance, with no part in it.
    d = await start();
    const q = setup.services.db;
    const [enc] = await q.query<{ id: string }>(`SELECT id FROM encounters WHERE appointment_id = $1 AND status = 'in-progress'`, [apt]);
    expect(enc).toBeTruthy();
    await b.kill('SIGKILL');
    const killedAt = Date.now();
    // Nobody reconnects. D sees no live home (15 s) and nothing in the visit for the window (30 s here): it ends it.
    const ended = await expectEventually(async () => {
      const [e] = await q.query<{ status: string; ended_at: Date }>('SELECT status, ended_at FROM encounters WHERE id = $1', [enc.id]);
      expect(e.status).toBe('finished');
      return e;
    }, 90_000);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(20_000); // not before the window
    // Ended at the dead home's last sign of life (its last heartbeat, at most 5 s before the kill), everyone's period closed.
    expect(ended.ended_at.getTime()).toBeLessThanOrEqual(killedAt + 1000);
    expect(ended.ended_at.getTime()).toBeGreaterThan(killedAt - 10_000);
    const open = await q.query(`SELECT 1 FROM encounter_participants WHERE encounter_id = $1 AND left_at IS NULL`, [enc.id]);
    expect(open).toEqual([]);
    const [appt] = await q.query<{ status: string }>('SELECT status FROM appointments WHERE id = $1', [apt]);
    expect(appt.status).toBe('fulfilled');
    const ends = await q.query<{ actor: string }>(`SELECT actor FROM audit_log WHERE action = 'visit.end' AND entity_id = $1`, [enc.id]);
    expect(ends.map((e) => e.actor)).toEqual(['system']);
  }, 150_000);
});
