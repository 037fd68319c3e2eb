/**
 * npm run bench:messaging [-- --json] [-- --clients 1000 --messages 200 --round 25] [-- --postgres]
 *
 * Message send → delivered on the recipients' WebSockets, with N connected dashboard clients that may all see
 * the patient: a patient POSTs a message (validated, sealed with the patient's key, stored, audited) and the
 * time to its arrival is measured on every socket. Beside it the floor: a bare `ws` server broadcasting the
 * same payload, posted over HTTP the same way, to the same number of sockets.
 *
 * The database is the embedded PGlite (the single-box default); `--postgres` runs Vigil on the PostgreSQL at
 * VIGIL_TEST_PG_URL (a fresh database, dropped afterwards) instead.
 *
 * Both sides are set up first, then measured in alternating rounds (`--round` messages each) so that a
 * shared machine's changing load falls on both alike; the ratio is what to read.
 */
import http from 'node:http';
import os from 'node:os';
import WebSocket, { WebSocketServer } from 'ws';
import { bootApp, type TestApp } from '../test/support/app.ts';
import { createTestDatabase } from '../test/support/services.ts';
import { summarize, table } from './support/stats.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : dflt);
const JSON_OUT = args.includes('--json');
const CLIENTS = flag('clients', 1000);
const MESSAGES = flag('messages', 200);
const POSTGRES = args.includes('--postgres');
const ROUND = Math.max(1, Math.min(flag('round', 25), MESSAGES));
const log = (s: string) => !JSON_OUT && process.stderr.write(s + '\n');
const TEXT = 'My ankle is more swollen this evening and the skin looks red. Should I come in? '.repeat(2);

/**
 * Opens n sockets; calls onMessage(text) for each frame; resolves when all are ready: open, or, when `ready`
 * is given, once each has received the frame `ready` recognises (Vigil's `hello`, sent after the server has
 * authenticated the socket and read its scope). Measuring before then would time the server still working
 * through a thousand sign-ins, not message delivery.
 */
async function openSockets(url: string, n: number, onMessage: (data: string) => void, ready?: (data: string) => boolean): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from(
        { length: Math.min(50, n - i) },
        () =>
          new Promise<void>((resolve, reject) => {
            const ws = new WebSocket(url);
            ws.on('message', (d) => {
              const text = d.toString();
              if (ready?.(text)) resolve();
              onMessage(text);
            });
            if (!ready) ws.once('open', () => resolve());
            ws.once('error', reject);
            ws.once('close', (code, why) => reject(new Error(`socket closed before it was ready: ${code} ${why.toString()}`)));
            sockets.push(ws);
          }),
      ),
    );
  }
  return sockets;
}

/** Per-delivery latencies of one side: every socket's arrival time, and the last socket's per message. */
function tracker() {
  const waiting = new Map<string, { t0: number; left: number; done: () => void }>();
  const lat: number[] = [];
  const last: number[] = [];
  const arrive = (key: string) => {
    const w = waiting.get(key);
    if (!w) return;
    const dt = performance.now() - w.t0;
    lat.push(dt);
    if (--w.left === 0) {
      last.push(dt);
      waiting.delete(key);
      w.done();
    }
  };
  /** Sends one message and resolves when every socket has it. */
  const measure = async (key: string, send: () => Promise<void>) => {
    const all = new Promise<void>((resolve) => waiting.set(key, { t0: performance.now(), left: CLIENTS, done: resolve }));
    await send();
    await all;
  };
  return { lat, last, arrive, measure };
}

interface Side {
  t: ReturnType<typeof tracker>;
  send(key: string): Promise<void>;
  close(): Promise<void>;
}

async function floor(): Promise<Side> {
  const t = tracker();
  const wss = new WebSocketServer({ noServer: true });
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      for (const c of wss.clients) c.send(body);
      res.writeHead(201).end();
    });
  });
  server.on('upgrade', (req, sock, head) => wss.handleUpgrade(req, sock, head, (ws) => wss.emit('connection', ws, req)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const sockets = await openSockets(`ws://127.0.0.1:${port}`, CLIENTS, (d) =>
    t.arrive((JSON.parse(d) as { message: { text: string } }).message.text.split(' ')[0]),
  );
  return {
    t,
    async send(key) {
      const body = JSON.stringify({ type: 'message', message: { text: `${key} ${TEXT}` } });
      await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    },
    async close() {
      sockets.forEach((s) => s.terminate());
      wss.close();
      server.close();
    },
  };
}

async function vigil(): Promise<Side> {
  const t = tracker();
  const pg = POSTGRES ? await createTestDatabase() : null;
  const app: TestApp = await bootApp(pg ? { databaseUrl: pg.url } : {});
  const s = app.services;
  const patient = await s.patientService.create({ name: 'Bench Patient' }, 'system');
  const nurse = await app.tokenFor('clinician');
  await s.patientService.assignClinician(patient.id, nurse.practitionerId!, 'system');
  const patientToken = (await app.tokenFor('patient', { patientId: patient.id })).token;
  const thread = await app.api<{ id: string }>(patientToken, 'POST', `/api/v1/patients/${patient.id}/threads`, { subject: 'Bench', text: 'start' });
  const opening = performance.now();
  const sockets = await openSockets(
    `${app.httpUrl.replace('http', 'ws')}/api/v1/stream?token=${nurse.token}`,
    CLIENTS,
    (d) => {
      const m = JSON.parse(d) as { type: string; message?: { text: string } };
      if (m.type === 'message') t.arrive(m.message!.text.split(' ')[0]);
    },
    (d) => d.startsWith('{"type":"hello"'),
  );
  log(`vigil: ${CLIENTS} sockets signed in and subscribed in ${Math.round(performance.now() - opening)} ms`);
  return {
    t,
    async send(key) {
      const res = await fetch(`${app.httpUrl}/api/v1/threads/${thread.body.id}/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${patientToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ text: `${key} ${TEXT}` }),
      });
      if (res.status !== 201) throw new Error(`send failed: ${res.status} ${await res.text()}`);
    },
    async close() {
      sockets.forEach((x) => x.terminate());
      await app.stop();
      await pg?.drop();
    },
  };
}

const loadBefore = os.loadavg()[0];
const f = await floor();
const v = await vigil();
try {
  for (let i = 0; i < MESSAGES; i += ROUND) {
    for (const side of [f, v]) for (let k = i; k < Math.min(i + ROUND, MESSAGES); k++) await side.t.measure(`bench-${k}`, () => side.send(`bench-${k}`));
    log(`${Math.min(i + ROUND, MESSAGES)} / ${MESSAGES} messages × ${CLIENTS} sockets, each side`);
  }
} finally {
  await f.close();
  await v.close();
}
const load = { before: loadBefore, after: os.loadavg()[0], cores: os.cpus().length };
const sf = summarize(f.t.lat),
  sv = summarize(v.t.lat),
  lf = summarize(f.t.last),
  lv = summarize(v.t.last);
const ratio = { p50: sv.p50 / sf.p50, p99: sv.p99 / sf.p99 };
if (JSON_OUT)
  console.log(
    JSON.stringify({
      clients: CLIENTS,
      messages: MESSAGES,
      round: ROUND,
      database: POSTGRES ? 'postgresql' : 'pglite',
      load,
      floor: sf,
      vigil: sv,
      floorLast: lf,
      vigilLast: lv,
      ratio,
    }),
  );
else {
  const row = (setup: string, all: typeof sf, last: typeof sf) => ({
    setup,
    clients: CLIENTS,
    messages: MESSAGES,
    'p50 ms': all.p50,
    'p99 ms': all.p99,
    'last socket p50 ms': last.p50,
    'last socket p99 ms': last.p99,
  });
  console.log(
    table([row('bare ws broadcast (floor)', sf, lf), row(`Vigil message (seal, store, audit, live; ${POSTGRES ? 'PostgreSQL' : 'PGlite'})`, sv, lv)]),
  );
  console.log(`\nVigil / floor: p50 ×${ratio.p50.toFixed(2)}, p99 ×${ratio.p99.toFixed(2)} (target: under ×3)`);
  console.log(`load average ${load.before.toFixed(1)} → ${load.after.toFixed(1)} on ${load.cores} cores`);
}
process.exit(0);
