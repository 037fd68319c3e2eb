/**
 * One Vigil process on the embedded database (PGlite) is the home of every visit: killed with SIGKILL while a
 * visit is in progress, its rooms are gone with it. After the restart, nobody comes back within the rejoin window
 * (VIGIL_VISIT_REJOIN_S, 3 s here): the restarted process ends the visit (Encounter finished at its last sign of
 * life, appointment fulfilled) instead of leaving it in progress for good (found by review).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startServerProcess, type ServerProcess } from './support/server-process.ts';
import { expectEventually } from './support/clinic.ts';
import { VisitClient } from './support/visit-client.ts';

describe('a visit in progress when its one process is killed', () => {
  const procs: ServerProcess[] = [];
  const clients: VisitClient[] = [];
  let dir = '';
  afterAll(async () => {
    clients.forEach((c) => c.ws.close());
    for (const p of procs) await p.kill();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const api = async <T>(p: ServerProcess, method: string, url: string, body?: unknown) => {
    const res = await fetch(p.url + url, {
      method,
      headers: { authorization: `Bearer ${p.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return (await res.json()) as T;
  };

  it('is ended after the restart once the rejoin window has passed with nobody back', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-visit-restart-'));
    const env = { VIGIL_DATA_DIR: dir, VIGIL_VISIT_REJOIN_S: '3' };
    const first = await startServerProcess(env);
    procs.push(first);
    // The CLI's admin token (server.json) is staff; a guest by one-time link is the other side of the visit.
    const patient = await api<{ id: string }>(first, 'POST', '/api/v1/patients', { name: 'Alice Ames' });
    const apt = (await api<{ id: string }>(first, 'POST', '/api/v1/appointments', { patientId: patient.id, start: new Date().toISOString() })).id;
    const link = await api<{ url: string }>(first, 'POST', `/api/v1/visits/${apt}/invites`, { name: 'Daughter' });
    const pass = await api<{ pass: string }>(first, 'POST', `/api/v1/visits/${apt}/guest-pass`, { token: link.url.split('/').pop() });
    const socket = (url: string, protocols?: string[]) => {
      const c = new VisitClient(url, undefined, protocols);
      clients.push(c);
      return c;
    };
    const ws = first.url.replace('http', 'ws');
    const staff = socket(`${ws}/api/v1/visits/${apt}/signal?token=${first.token}`);
    await staff.next('hello');
    staff.send({ type: 'join' });
    await staff.next('admitted');
    const guest = socket(`${ws}/api/v1/visits/${apt}/signal`, ['vigil.visit', `vigil.visit-pass.${pass.pass}`]);
    await guest.next('hello');
    guest.send({ type: 'join' });
    await staff.next('waiting', (m) => (m.waiting as unknown[]).length === 1);
    staff.send({ type: 'admit', id: guest.id });
    await guest.next('admitted');
    await expectEventually(async () =>
      expect(await api<{ status: string }>(first, 'GET', `/api/v1/visits/${apt}/encounter`)).toMatchObject({ status: 'in-progress' }),
    );

    await first.kill('SIGKILL');
    const killedAt = Date.now();
    const second = await startServerProcess(env);
    procs.push(second);
    // Before: in progress for good (no room anywhere, nothing to end it).
    const enc = await expectEventually(async () => {
      const e = await api<{ status: string; end: number | null; participants: Array<{ kind: string; leftAt: number | null }> }>(
        second,
        'GET',
        `/api/v1/visits/${apt}/encounter`,
      );
      expect(e.status).toBe('finished');
      return e;
    }, 40_000);
    // Its end is its last sign of life before the kill (the last admission), and everyone's period is closed.
    expect(enc.end).toBeLessThanOrEqual(killedAt);
    expect(enc.participants.map((p) => p.kind).sort()).toEqual(['guest', 'staff']);
    for (const p of enc.participants) expect(p.leftAt).toBe(enc.end);
    expect((await api<{ status: string }>(second, 'GET', `/api/v1/appointments/${apt}`)).status).toBe('fulfilled');
  }, 120_000);
});
