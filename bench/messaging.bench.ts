/**
 * npm run bench:messaging [-- --json] [-- --clients 1000 --messages 200]
 *
 * Message send → delivered on the recipients' WebSockets, with N connected dashboard clients that may all see
 * the patient: a patient POSTs a message (validated, sealed with the patient's key, stored, audited) and the
 * time to its arrival is measured on every socket. Beside it the floor: a bare `ws` server broadcasting the
 * same payload, posted over HTTP the same way, to the same number of sockets.
 */
import http from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import { bootApp } from '../test/support/app.ts';
import { summarize, table } from './support/stats.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => (args.includes(`--${name}`) ? Number(args[args.indexOf(`--${name}`) + 1]) : dflt);
const JSON_OUT = args.includes('--json');
const CLIENTS = flag('clients', 1000);
const MESSAGES = flag('messages', 200);
const log = (s: string) => !JSON_OUT && process.stderr.write(s + '\n');
const TEXT = 'My ankle is more swollen this evening and the skin looks red. Should I come in? '.repeat(2);

/** Opens n sockets; calls onMessage(text, index) for each frame; resolves when all are open. */
async function openSockets(url: string, n: number, onMessage: (data: string, i: number) => void): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, k) => new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.on('message', (d) => onMessage(d.toString(), i + k));
      ws.once('open', () => resolve());
      ws.once('error', reject);
      sockets.push(ws);
    })));
  }
  return sockets;
}

/** Sends MESSAGES one after another; each resolves when every socket has it. Returns per-delivery latencies. */
async function run(send: (i: number) => Promise<void>, arrivals: { waiting: Map<string, { t0: number; left: number; done: () => void }>; lat: number[]; last: number[] }) {
  for (let i = 0; i < MESSAGES; i++) {
    const key = `bench-${i}`;
    const all = new Promise<void>((resolve) => arrivals.waiting.set(key, { t0: performance.now(), left: CLIENTS, done: resolve }));
    await send(i);
    await all;
  }
}

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
  return { waiting, lat, last, arrive };
}

async function floor() {
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
  const sockets = await openSockets(`ws://127.0.0.1:${port}`, CLIENTS, (d) => t.arrive((JSON.parse(d) as { message: { text: string } }).message.text.split(' ')[0]));
  await run(async (i) => {
    const body = JSON.stringify({ type: 'message', message: { text: `bench-${i} ${TEXT}` } });
    await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  }, t);
  sockets.forEach((s) => s.terminate());
  wss.close();
  server.close();
  return t;
}

async function vigil() {
  const t = tracker();
  const app = await bootApp();
  try {
    const s = app.services;
    const patient = await s.patientService.create({ name: 'Bench Patient' }, 'system');
    const nurse = await app.tokenFor('clinician');
    await s.patientService.assignClinician(patient.id, nurse.practitionerId!, 'system');
    const patientToken = (await app.tokenFor('patient', { patientId: patient.id })).token;
    const thread = await app.api<{ id: string }>(patientToken, 'POST', `/api/v1/patients/${patient.id}/threads`, { subject: 'Bench', text: 'start' });
    const sockets = await openSockets(`${app.httpUrl.replace('http', 'ws')}/api/v1/stream?token=${nurse.token}`, CLIENTS, (d) => {
      const m = JSON.parse(d) as { type: string; message?: { text: string } };
      if (m.type === 'message') t.arrive(m.message!.text.split(' ')[0]);
    });
    await new Promise((r) => setTimeout(r, 500));
    await run(async (i) => {
      const res = await fetch(`${app.httpUrl}/api/v1/threads/${thread.body.id}/messages`, { method: 'POST', headers: { authorization: `Bearer ${patientToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ text: `bench-${i} ${TEXT}` }) });
      if (res.status !== 201) throw new Error(`send failed: ${res.status} ${await res.text()}`);
    }, t);
    sockets.forEach((x) => x.terminate());
  } finally {
    await app.stop();
  }
  return t;
}

const f = await floor();
log(`floor: ${MESSAGES} messages × ${CLIENTS} sockets done`);
const v = await vigil();
log(`vigil: ${MESSAGES} messages × ${CLIENTS} sockets done`);
const rows = [
  { setup: `bare ws broadcast (floor)`, clients: CLIENTS, messages: MESSAGES, 'p50 ms': summarize(f.lat).p50, 'p99 ms': summarize(f.lat).p99, 'last socket p50 ms': summarize(f.last).p50, 'last socket p99 ms': summarize(f.last).p99 },
  { setup: 'Vigil message (seal, store, audit, live)', clients: CLIENTS, messages: MESSAGES, 'p50 ms': summarize(v.lat).p50, 'p99 ms': summarize(v.lat).p99, 'last socket p50 ms': summarize(v.last).p50, 'last socket p99 ms': summarize(v.last).p99 },
];
const ratio = { p50: summarize(v.lat).p50 / summarize(f.lat).p50, p99: summarize(v.lat).p99 / summarize(f.lat).p99 };
if (JSON_OUT) console.log(JSON.stringify({ clients: CLIENTS, messages: MESSAGES, floor: summarize(f.lat), vigil: summarize(v.lat), floorLast: summarize(f.last), vigilLast: summarize(v.last), ratio }));
else {
  console.log(table(rows));
  console.log(`\nVigil / floor: p50 ×${ratio.p50.toFixed(2)}, p99 ×${ratio.p99.toFixed(2)} (target: under ×3)`);
}
process.exit(0);
