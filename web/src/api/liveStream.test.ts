import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket, WebSocketServer } from 'ws';
import { LIVE_PROTOCOL_VERSION } from '@contracts';
import { LiveStream } from './liveStream.ts';

// Node 20 has no global WebSocket: the browser class is the `ws` client, which speaks the same API.
beforeAll(() => {
  (globalThis as { WebSocket?: unknown }).WebSocket ??= NodeWebSocket;
});

let server: WebSocketServer | null = null;
let stream: LiveStream | null = null;
afterEach(async () => {
  stream?.stop();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
});

/** A stream server that greets every connection as Vigil's does, with the given protocol version. */
async function streamWith(protocol: number): Promise<LiveStream> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (ws) => ws.send(JSON.stringify({ type: 'hello', protocol, user: 'nora@clinic.test', role: 'clinician' })));
  await new Promise((resolve) => server!.once('listening', resolve));
  const { port } = server.address() as { port: number };
  stream = new LiveStream(`ws://127.0.0.1:${port}/api/v1/stream`);
  return stream;
}

const hello = (s: LiveStream) => new Promise<void>((resolve) => s.subscribe((m) => m.type === 'hello' && resolve()));

describe('LiveStream and the server protocol version', () => {
  it('tells the page it is outdated when the server greets with another protocol version', async () => {
    const s = await streamWith(LIVE_PROTOCOL_VERSION + 1);
    const changes: boolean[] = [];
    s.onStatus(() => changes.push(s.outdated));
    s.start();
    await hello(s);
    expect(s.outdated).toBe(true);
    expect(changes).toContain(true);
  });

  it('stays current when the server speaks this page’s version', async () => {
    const s = await streamWith(LIVE_PROTOCOL_VERSION);
    s.start();
    await hello(s);
    expect(s.status).toBe('open');
    expect(s.outdated).toBe(false);
  });
});
