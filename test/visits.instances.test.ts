/**
 * Video visits across two instances on one PostgreSQL (issue 8, several instances): the clinician's signalling
 * socket lands on instance A and the patient's on instance B; the waiting room, admission, SDP/ICE relay and
 * in-call chat work as on one instance (the room lives at its home instance; the other relays through sealed
 * rows and NOTIFY), a guest pass redeemed on A works on B, nothing crosses in plaintext, and when the home
 * instance shuts down the participants reconnect and the visit continues on the survivor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootInstances, type Instances, type TestApp } from './support/app.ts';
import { postgresAvailable, skipNote } from './support/services.ts';
import { expectEventually as eventually } from './support/clinic.ts';
import { VisitClient as Client } from './support/visit-client.ts';

const hasPg = await postgresAvailable();
if (!hasPg) skipNote('PostgreSQL (video visits across two instances)');

describe.skipIf(!hasPg)('video visits across two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let cluster: Instances | undefined;
  let apt: string;
  let alice: string;
  let nurse: { token: string; practitionerId: string | null };
  let patient: string;
  /** The secret the patient's admission on A gave it (to come straight back after a drop). */
  let patRejoin = '';
  const clients: Client[] = [];
  const ws = (app: TestApp, path: string, protocols?: string[]) => {
    const c = new Client(app.httpUrl.replace('http', 'ws') + path, undefined, protocols);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    // Instances of one deployment share the master key (patients' data keys are wrapped by it): bootInstances does.
    cluster = await bootInstances(2);
    [a, b] = cluster.apps;
    alice = (await a.services.patientService.create({ name: 'Alice Ames' }, 'system')).id;
    nurse = await a.tokenFor('clinician');
    await a.services.patientService.assignClinician(alice, nurse.practitionerId!, 'system');
    patient = (await a.tokenFor('patient', { patientId: alice })).token;
    apt = (await a.api<{ id: string }>(nurse.token, 'POST', '/api/v1/appointments', { patientId: alice, start: 'now' })).body.id;
  }, 240_000);
  afterAll(async () => {
    clients.forEach((c) => c.ws.close());
    await cluster?.stop();
  });

  it('admits, relays signalling and chat between a clinician on A and a patient on B', async () => {
    const doc = ws(a, `/api/v1/visits/${apt}/signal?token=${nurse.token}`);
    await doc.next('hello');
    const pat = ws(b, `/api/v1/visits/${apt}/signal?token=${patient}`);
    const hello = await pat.next('hello');
    expect(hello.rtc).toMatchObject({ iceTransportPolicy: 'all' });
    const homes = await a.services.db.query<{ instance_id: string }>('SELECT instance_id FROM visit_room_homes WHERE appointment_id = $1', [apt]);
    expect(homes.map((h) => h.instance_id)).toEqual([a.services.ownership.instanceId]); // the room lives on A; B relays
    // A nurse's dashboard on B (not the room's home) hears that someone waits, and that nobody does once admitted.
    const dashboard = ws(b, `/api/v1/stream?token=${nurse.token}`);
    await dashboard.next('hello');
    pat.send({ type: 'join' });
    await pat.next('waiting-room');
    expect(await dashboard.next('visit.waiting', (m) => m.waiting === 1)).toMatchObject({ patientId: alice, appointmentId: apt, kinds: ['patient'] });
    // The list the banner loads after a reload, from B too (the room lives on A: its sealed presence record).
    for (const app of [a, b])
      await eventually(async () =>
        expect((await app.api<unknown[]>(nurse.token, 'GET', '/api/v1/visits/waiting')).body).toEqual([
          { appointmentId: apt, patientId: alice, patientName: 'Alice Ames', waiting: 1, kinds: ['patient'] },
        ]),
      );
    doc.send({ type: 'join' });
    await doc.next('admitted');
    const waiting = await doc.next('waiting', (m) => (m.waiting as unknown[]).length === 1);
    doc.send({ type: 'admit', id: (waiting.waiting as Array<{ id: string }>)[0].id });
    const admitted = await pat.next('admitted');
    patRejoin = admitted.rejoin as string;
    await dashboard.next('visit.waiting', (m) => m.waiting === 0); // before: never relayed to B
    expect(JSON.stringify(dashboard.seen)).not.toContain('Alice'); // ids and a count: no name crosses NOTIFY
    expect((admitted.peers as Array<{ id: string }>).map((p) => p.id)).toEqual([doc.id]);
    // The visit page's data from either instance: B (not the home) answers from the home's sealed record.
    for (const app of [a, b]) {
      await eventually(async () => {
        const page = await app.api<{ inRoom: Array<{ kind: string }>; waiting: unknown[] }>(nurse.token, 'GET', `/api/v1/visits/${apt}`);
        expect(page.body.inRoom.map((p) => p.kind).sort()).toEqual(['patient', 'staff']);
        expect(page.body.waiting).toEqual([]);
      });
    }
    // The newcomer offers; the answer and ICE candidates come back, in order.
    pat.send({ type: 'signal', to: doc.id, data: { sdp: { type: 'offer', sdp: 'v=0 offer-from-B' } } });
    expect(await doc.next('signal')).toMatchObject({ from: pat.id, data: { sdp: { type: 'offer', sdp: 'v=0 offer-from-B' } } });
    doc.send({ type: 'signal', to: pat.id, data: { sdp: { type: 'answer', sdp: 'v=0 answer-from-A' } } });
    for (let i = 0; i < 5; i++) doc.send({ type: 'signal', to: pat.id, data: { candidate: { candidate: `candidate:${i}`, sdpMid: '0' } } });
    await eventually(() => expect(pat.seen.filter((m) => m.type === 'signal')).toHaveLength(6));
    expect(
      pat.seen
        .filter((m) => m.type === 'signal')
        .map(
          (m) =>
            (m.data as { sdp?: { type: string }; candidate?: { candidate: string } }).sdp?.type ??
            (m.data as { candidate: { candidate: string } }).candidate.candidate,
        ),
    ).toEqual(['answer', 'candidate:0', 'candidate:1', 'candidate:2', 'candidate:3', 'candidate:4']);
    pat.send({ type: 'chat', text: 'Can you hear me? My ankle is swollen' });
    expect(((await doc.next('chat')).message as { text: string }).text).toBe('Can you hear me? My ankle is swollen');
    // Every relayed row is consumed (and was sealed: the chat text never sits in the table).
    await eventually(async () => expect(Number((await b.services.db.query<{ n: string }>('SELECT count(*) AS n FROM visit_mail'))[0].n)).toBe(0));
    const enc = await eventually(async () => {
      const e = await b.api<{ status: string; participants: Array<{ kind: string }> }>(nurse.token, 'GET', `/api/v1/visits/${apt}/encounter`);
      expect(e.body.participants?.map((p) => p.kind).sort()).toEqual(['patient', 'staff']);
      return e.body;
    });
    expect(enc.status).toBe('in-progress');
  });

  it('lets a guest redeem a link on A and join through B', async () => {
    const invite = await a.api<{ url: string }>(nurse.token, 'POST', `/api/v1/visits/${apt}/invites`, { name: 'Interpreter' });
    const pass = await a.api<{ pass: string }>('', 'POST', `/api/v1/visits/${apt}/guest-pass`, { token: invite.body.url.split('/').pop() });
    expect(pass.status).toBe(201);
    const guest = ws(b, `/api/v1/visits/${apt}/signal`, ['vigil.visit', `vigil.visit-pass.${pass.body.pass}`]);
    await guest.next('hello');
    guest.send({ type: 'join' });
    await guest.next('waiting-room');
    const doc = clients[0];
    const w = await doc.next('waiting', (m) => (m.waiting as Array<{ name: string }>).some((x) => x.name === 'Interpreter'));
    doc.send({ type: 'admit', id: (w.waiting as Array<{ id: string; name: string }>).find((x) => x.name === 'Interpreter')!.id });
    const admitted = await guest.next('admitted');
    expect((admitted.peers as unknown[]).length).toBe(2);
    guest.send({ type: 'leave' });
  });

  it('a visit cancelled while a relayed participant is in it ends for them at the home too (found by review)', async () => {
    const later = (
      await a.api<{ id: string }>(nurse.token, 'POST', '/api/v1/appointments', { patientId: alice, start: new Date(Date.now() + 3 * 3_600_000).toISOString() })
    ).body.id;
    const doc = ws(a, `/api/v1/visits/${later}/signal?token=${nurse.token}`);
    await doc.next('hello');
    doc.send({ type: 'join' });
    await doc.next('admitted');
    const pat = ws(b, `/api/v1/visits/${later}/signal?token=${patient}`); // relayed by B to A, the home
    await pat.next('hello');
    pat.send({ type: 'join' });
    await doc.next('waiting', (m) => (m.waiting as Array<{ id: string }>).some((w) => w.id === pat.id));
    doc.send({ type: 'admit', id: pat.id });
    await pat.next('admitted');
    expect((await a.api(nurse.token, 'POST', `/api/v1/appointments/${later}/cancel`, {})).status).toBe(200);
    for (const c of [doc, pat]) await eventually(() => expect(c.closed?.code).toBe(4409), 20_000);
    // The home let the relayed patient go (before: kept in the room for good, re-kicked every 5 s).
    await eventually(async () => {
      const left = await a.services.db.query<{ kind: string }>(
        `SELECT details->>'kind' AS kind FROM audit_log WHERE action = 'visit.leave' AND entity_id = $1`,
        [later],
      );
      expect(left.map((l) => l.kind).sort()).toEqual(['patient', 'staff']);
    }, 20_000);
  }, 60_000);

  it('when the home instance shuts down, its participants are told and the visit continues on the survivor', async () => {
    const pat = clients[1];
    await a.stop();
    await eventually(() => expect(pat.closed).not.toBeNull());
    const doc2 = ws(b, `/api/v1/visits/${apt}/signal?token=${nurse.token}`);
    await doc2.next('hello');
    doc2.send({ type: 'join' });
    await doc2.next('admitted');
    // A wrong secret (or none) waits to be let in, as any newcomer.
    const impostor = ws(b, `/api/v1/visits/${apt}/signal?token=${patient}`);
    await impostor.next('hello');
    impostor.send({ type: 'join', rejoin: patRejoin.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')) });
    await impostor.next('waiting-room');
    await doc2.next('waiting', (m) => (m.waiting as unknown[]).length === 1);
    impostor.ws.close();
    await doc2.next('waiting', (m) => (m.waiting as unknown[]).length === 0);
    // The patient's app comes back with its admission's secret: straight into the visit on B, not through the
    // waiting room again (found by review: the secret lived in A's memory only, and went with it).
    const pat2 = ws(b, `/api/v1/visits/${apt}/signal?token=${patient}`);
    await pat2.next('hello');
    pat2.send({ type: 'join', rejoin: patRejoin });
    const back = await pat2.next('admitted');
    expect((back.peers as Array<{ id: string }>).map((p) => p.id)).toEqual([doc2.id]);
    expect(back.rejoin).not.toBe(patRejoin); // a new secret for the new connection
    const saved = await b.services.db.query<{ secret_hash: string }>('SELECT secret_hash FROM visit_rejoin WHERE appointment_id = $1', [apt]);
    expect(JSON.stringify(saved)).not.toContain(back.rejoin as string); // a digest, not the secret
    pat2.send({ type: 'signal', to: doc2.id, data: { sdp: { type: 'offer', sdp: 'again' } } });
    expect(await doc2.next('signal')).toMatchObject({ from: pat2.id });
    const homes = await b.services.db.query<{ instance_id: string }>('SELECT instance_id FROM visit_room_homes WHERE appointment_id = $1', [apt]);
    expect(homes.map((h) => h.instance_id)).toEqual([b.services.ownership.instanceId]);
  });

  it('forgets a visit home once its room has emptied (found by review: the rows were kept for good)', async () => {
    // On B: A was shut down by the test above.
    const later = (
      await b.api<{ id: string }>(nurse.token, 'POST', '/api/v1/appointments', { patientId: alice, start: new Date(Date.now() + 7_200_000).toISOString() })
    ).body.id;
    const doc = ws(b, `/api/v1/visits/${later}/signal?token=${nurse.token}`);
    await doc.next('hello');
    const home = () => b.services.db.query('SELECT 1 FROM visit_room_homes WHERE appointment_id = $1', [later]);
    expect(await home()).toHaveLength(1);
    doc.ws.close();
    await eventually(async () => expect(await home()).toHaveLength(0), 50_000);
  }, 60_000);
});
