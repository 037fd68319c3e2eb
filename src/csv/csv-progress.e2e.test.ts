/**
 * `vigil import csv` shows a progress bar on a terminal, and only there: run in a real pseudo-terminal
 * (util-linux `script`), the bar counts up to 100 % with the stored and rejected rows; with its output piped
 * (scripts, CI logs) there is no bar, only the summary.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../cli/run-captured.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ROWS = 40_000;
const plain = (s: string) => s.replace(/\x1b(\[[0-9;?]*[A-Za-z]|[78])/g, '').replace(/\r/g, '\n');
const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs `vigil ARGS` with a pseudo-terminal as its stdin/stdout/stderr; returns its exit code and what the terminal showed. */
function inTerminal(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; screen: string }> {
  const command = `stty cols 120; ${[process.execPath, path.join(ROOT, 'bin/vigil.js'), ...args].map(sh).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-q', '-e', '-c', command, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.on('data', (c) => (screen += c));
    child.stderr.on('data', (c) => (screen += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, screen }));
  });
}

describe('CSV import progress', () => {
  let dataDir: string;
  let file: string;
  const env = { ...process.env };

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-csv-progress-'));
    process.env.VIGIL_DATA_DIR = dataDir;
    const id = JSON.parse((await runCliCaptured(['patient', 'add', '--name', 'Petra Progress', '--json'])).out).id as string;
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const lines = ['timestamp,patient,code,value,unit'];
    for (let i = 0; i < ROWS; i++) lines.push(`${new Date(t0 + i * 60_000).toISOString()},${id},8867-4,${60 + (i % 40)},/min`);
    lines.push(`2026-02-01T00:00:00Z,${id},8867-4,not-a-number,/min`);
    file = path.join(dataDir, 'heart-rate.csv');
    await writeFile(file, lines.join('\n') + '\n');
  }, 120_000);
  afterAll(async () => {
    process.env = env;
    await rm(dataDir, { recursive: true, force: true });
  });

  it('draws a bar up to 100 % with stored and rejected counts on a terminal', async () => {
    const { code, screen } = await inTerminal(['import', 'csv', file], { ...process.env, VIGIL_DATA_DIR: dataDir, TERM: 'xterm' });
    const text = plain(screen);
    expect(code, text).toBe(0); // rows were stored; the one rejected row is in the summary and the rejects file
    // Each redraw of the bar (cli-progress moves the cursor back instead of starting a line).
    const frames = [...text.matchAll(/importing \S+ (\d+)% \| (\d+) stored, (\d+) rejected \| \d+ rows\/s/g)];
    expect(frames.length, text).toBeGreaterThan(1);
    const percents = frames.map((f) => Number(f[1]));
    expect(percents[0]).toBe(0);
    expect(percents).toEqual([...percents].sort((a, b) => a - b)); // it only counts up
    expect(frames.at(-1)![0]).toMatch(/100% \| 40000 stored, 1 rejected \| \d+ rows\/s/);
    expect(text).toMatch(/40000 readings stored, 0 already there \(skipped\), 1 rows rejected/);
  }, 240_000);

  it('draws no bar when its output is not a terminal', async () => {
    const r = await runCliCaptured(['import', 'csv', file]);
    expect(r.err).not.toMatch(/importing/);
    expect(r.out).toMatch(/0 readings stored, 40000 already there \(skipped\), 1 rows rejected/);
  }, 240_000);
});
