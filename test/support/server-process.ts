import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  mqttPort: number;
  token: string;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs `node bin/vigil.js start` as a real child process (for crash tests) and waits until it serves. */
export async function startServerProcess(env: Record<string, string>, ports?: { http: number; mqtt: number }): Promise<ServerProcess> {
  const http = ports?.http ?? (await freePort());
  const mqtt = ports?.mqtt ?? (await freePort());
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin/vigil.js'), 'start'], {
    cwd: ROOT,
    env: {
      ...process.env,
      VIGIL_HTTP_PORT: String(http),
      VIGIL_HTTP_HOST: '127.0.0.1',
      VIGIL_MQTT_PORT: String(mqtt),
      VIGIL_DEMO: '0',
      VIGIL_LOG_LEVEL: 'warn',
      VIGIL_STRICT_RESPONSES: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${http}`;
  // A loaded machine (benches run under nice 19 beside other work) may need longer: VIGIL_TEST_START_TIMEOUT_MS.
  const deadline = Date.now() + (Number(process.env.VIGIL_TEST_START_TIMEOUT_MS) || 60_000);
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited early:\n${out}`);
    if (Date.now() > deadline) throw new Error(`server did not start:\n${out}`);
    try {
      // Bounded: a server that accepts the connection and never answers must not hold the loop past the deadline.
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) });
      if (res.ok) break;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // This process's server.json (a killed predecessor's may still be there, with its token revoked at restart).
  let token = '';
  for (let i = 0; i < 100 && !token; i++) {
    try {
      const info = JSON.parse(await readFile(path.join(env.VIGIL_DATA_DIR, 'server.json'), 'utf8')) as { token: string; pid: number };
      if (info.pid === proc.pid) token = info.token;
      else await new Promise((r) => setTimeout(r, 100));
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    proc,
    url,
    mqttPort: mqtt,
    token,
    output: () => out,
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      await exited;
    },
  };
}
