import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticCgm, toCgmCsv } from '../../analysis/cgm/index.ts';
import { runCliCaptured } from '../run-captured.ts';

let dir: string;
beforeAll(async () => (dir = await mkdtemp(path.join(tmpdir(), 'vigil-cgm-'))));
afterAll(async () => rm(dir, { recursive: true, force: true }));

const run = (argv: string[], stdinText = '') => runCliCaptured(['cgm', 'report', ...argv], stdinText);

describe('vigil cgm report', () => {
  it('prints the consensus metrics for a hand-built file (Battelino 2019)', async () => {
    // 10 readings at 5 min: 50, 60, 4 × 100, 4 × 200 → mean 131, tbr54 10, tbr70 20, tir 40, tar180 40.
    const values = [50, 60, 100, 100, 100, 100, 200, 200, 200, 200];
    const csv = 'timestamp,glucose_mg_dl\n' + values.map((v, i) => `2026-01-05T08:${String(i * 5).padStart(2, '0')}:00Z,${v}`).join('\n');
    const file = path.join(dir, 'small.csv');
    await writeFile(file, csv);
    const { code, out } = await run([file]);
    expect(code).toBe(0);
    const r = JSON.parse(out);
    expect(r).toMatchObject({ activePercent: 100, mean: 131, gmi: 6.44, tbr54: 10, tbr70: 20, tir: 40, tar180: 40, tar250: 0, readings: 10 });
    expect(r.days).toBeCloseTo(50 / 1440, 2); // 10 × 5 min
    expect(Object.keys(r).slice(0, 10)).toEqual(['days', 'activePercent', 'mean', 'gmi', 'cv', 'tbr54', 'tbr70', 'tir', 'tar180', 'tar250']);
  });

  it('writes a self-contained AGP report', async () => {
    const file = path.join(dir, 'cgm.csv');
    const html = path.join(dir, 'agp.html');
    await writeFile(file, toCgmCsv(generateSyntheticCgm({ seed: 11 })));
    const { code, out } = await run([file, '--html', html, '--patient', 'Ada <Test>']);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ days: 14, sufficient: true });
    expect((await stat(html)).mode & 0o777).toBe(0o600); // it names the patient and shows their glucose
    const page = await readFile(html, 'utf8');
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain('Ambulatory Glucose Profile');
    expect(page).toContain('Ada &lt;Test&gt;');
    expect(page.match(/<svg /g)!.length).toBe(2 + 14); // AGP, range bar, 14 daily profiles
    expect(page).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/); // no scripts, no network
  });

  it('reads stdin with "-" and accepts mmol/L by header', async () => {
    const { code, out } = await run(['-'], 'timestamp,glucose_mmol_l\n2026-01-05T08:00:00Z,5\n2026-01-05T08:05:00Z,10.5\n');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ mean: 139.5, tir: 50, tar180: 50 }); // 90 and 189 mg/dL
  });

  it('fails with one line naming the bad row or flag', async () => {
    const bad = await run(['-'], 'timestamp,glucose_mg_dl\n2026-01-05T08:00:00Z,abc\n');
    expect(bad.code).toBe(1);
    expect(bad.err).toBe('vigil cgm report: -: line 2: bad glucose value "abc"\n');
    expect((await run([path.join(dir, 'missing.csv')])).err).toMatch(/cannot read .*ENOENT/);
    expect((await run(['-', '--targets', 'kids'])).err).toMatch(/--targets/);
    expect((await run([])).code).toBe(1);
  });
});
