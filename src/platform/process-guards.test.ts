import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs a real Node process with the guards installed, then lets `trigger` escape every handler. */
function runWithGuards(trigger: string) {
  const script = `
    import { register } from 'tsx/esm/api';
    register();
    const { installProcessGuards } = await import('./src/platform/process-guards.ts');
    const { createLogger } = await import('./src/platform/logger.ts');
    installProcessGuards({ logger: createLogger('info'), shutdown: async () => { console.log('closed cleanly'); } });
    setInterval(() => {}, 1000); // a server keeps the loop alive: only the guard may end it
    ${trigger}
  `;
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
}

describe('process guards', () => {
  it('an unhandled rejection is logged as fatal, the server closes, and the process exits 1', () => {
    const r = runWithGuards(`Promise.reject(new Error('boom from a forgotten promise'));`);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('boom from a forgotten promise');
    expect(r.stdout).toContain('"kind":"unhandledRejection"');
    expect(r.stdout).toContain('closed cleanly');
  });

  it('an uncaught exception does the same', () => {
    const r = runWithGuards(`setTimeout(() => { throw new Error('thrown in a timer'); }, 10);`);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('thrown in a timer');
    expect(r.stdout).toContain('"kind":"uncaughtException"');
    expect(r.stdout).toContain('closed cleanly');
  });
});
