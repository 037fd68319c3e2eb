/** Real parts for the serial bridge tests: a socat pty pair, a fake bedside device, a cuttable TCP link. */

/** Runs every cleanup step even when one fails (a failed step must not leave processes behind). */
export async function cleanUp(...steps: Array<(() => unknown) | undefined>): Promise<void> {
  for (const step of steps) {
    try {
      await step?.();
    } catch (err) {
      console.error('cleanup step failed:', (err as Error).message);
    }
  }
}
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SerialPort, ReadlineParser } from 'serialport';

export async function waitFor(check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Two linked pseudo-terminals (`socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B`): a virtual serial cable. */
export async function virtualSerialPair(name: string) {
  const base = path.join(os.tmpdir(), `vigil-${name}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`);
  const pair = { bridgeEnd: `${base}-a`, deviceEnd: `${base}-b` };
  let proc: ChildProcess | null = null;
  // Never leave socat behind, even when a test fails half-way or the worker exits.
  process.once('exit', () => proc?.kill());
  const plug = async () => {
    proc = spawn('socat', [`pty,raw,echo=0,link=${pair.bridgeEnd}`, `pty,raw,echo=0,link=${pair.deviceEnd}`], { stdio: 'ignore' });
    await waitFor(() => existsSync(pair.bridgeEnd) && existsSync(pair.deviceEnd), 5000, 'socat links');
  };
  await plug();
  return {
    ...pair,
    plug,
    /** Kills socat: both ends vanish, like a pulled USB-serial cable. */
    async unplug() {
      const p = proc;
      proc = null;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    },
  };
}

/** A bedside thermometer on the far end of the cable: answers `MEASURE` with `TEMP 36.8 C`. */
export async function fakeThermometer(devicePath: string, answer = () => 'TEMP 36.8 C') {
  const port = new SerialPort({ path: devicePath, baudRate: 9600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  port.on('error', () => undefined);
  const received: string[] = [];
  port.pipe(new ReadlineParser({ delimiter: '\r\n' })).on('data', (line: string) => {
    received.push(line);
    if (line.trim() === 'MEASURE') port.write(answer() + '\r\n');
  });
  return {
    received,
    close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
  };
}

/** A TCP forwarder in front of Vigil's broker that the test can cut and restore ("Vigil unreachable"). */
export async function cuttableLink(targetPort: number) {
  const sockets = new Set<net.Socket>();
  let up = true;
  const forward = (client: net.Socket) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  };
  const server = net.createServer((client) => (up ? forward(client) : client.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    /** Refuses new connections and drops the open ones. */
    cut() {
      up = false;
      sockets.forEach((s) => s.destroy());
    },
    restore() {
      up = true;
    },
    close: () =>
      new Promise<void>((r) => {
        up = false;
        sockets.forEach((s) => s.destroy());
        server.close(() => r());
      }),
  };
}

/**
 * A Mosquitto the test can stop and start again on the same port, with persistence on (as a production
 * broker should run), so that sessions and queued messages survive its restart.
 */
export async function restartableMosquitto(port: number) {
  const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
  const { canConnect } = await import('./support/ports.ts');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-bridge-mosq-'));
  const conf = path.join(dir, 'mosquitto.conf');
  await writeFile(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location ${dir}/\nautosave_interval 1\nmax_queued_messages 100000\n`,
  );
  let proc: ChildProcess | null = null;
  process.once('exit', () => proc?.kill());
  const start = async () => {
    proc = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' });
    await waitFor(() => canConnect(port), 5000, 'mosquitto to listen');
  };
  const stop = async () => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM'); // mosquitto saves its persistence file on SIGTERM
    await exited;
  };
  await start();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    start,
    stop,
    async dispose() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
