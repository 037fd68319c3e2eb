import { afDelayBeats } from '../../analysis/ecg/af.ts';
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCliCaptured } from '../run-captured.ts';
import { HAS_DATA, SHARED_DATA } from '../../analysis/ecg/testdata.ts';

const cli = (argv: string[]) => runCliCaptured(argv);

describe('vigil ecg verbs', () => {
  it('prints help for each verb', async () => {
    for (const verb of ['detect', 'af', 'classify']) {
      const r = await cli(['ecg', verb, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`vigil ecg ${verb}`);
    }
  });
  it('names the missing file in one line', async () => {
    const r = await cli(['ecg', 'detect', '/nonexistent/rec']);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('/nonexistent/rec.hea');
  });
  it('rejects a bad header in one line', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-ecg-'));
    writeFileSync(path.join(dir, 'bad.hea'), 'bad 2 360 100\nbad.dat 212 200 11 1024 0 0 0 MLII\n');
    const r = await cli(['ecg', 'detect', path.join(dir, 'bad')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/vigil ecg detect: header names 2 signals/);
  });
  it('quotes a binary header escaped and cut short, and reads RECORD after --json', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-ecg-'));
    writeFileSync(path.join(dir, 'junk.hea'), Buffer.concat([Buffer.from('\x00\x07\x1b]0;pwned\x07 x '), Buffer.alloc(1750, 0xff), Buffer.from('\n')]));
    const r = await cli(['ecg', 'detect', '--json', path.join(dir, 'junk')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^vigil ecg detect: bad record line "\\x00\\x07\\x1b\]0;pwned/);
    expect(r.err.trim()).not.toMatch(/[\x00-\x1f\x7f]/);
    expect(r.err.length).toBeLessThan(200);
  });
  it('classify prints a line for every record, an error line for a bad one, and exits 1', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-ecg-'));
    writeFileSync(path.join(dir, 'bad.hea'), 'bad 2 360 100\n');
    const good = HAS_DATA ? [path.join(SHARED_DATA, 'cinc2017', 'A00003')] : [];
    const r = await cli(['ecg', 'classify', path.join(dir, 'missing'), ...good, path.join(dir, 'bad')]);
    expect(r.code).toBe(1);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2 + good.length);
    expect(lines[0]).toEqual({ record: path.join(dir, 'missing'), error: expect.stringContaining('missing.hea') });
    if (HAS_DATA) expect(lines[1]).toMatchObject({ record: 'A00003', label: expect.any(String) });
    expect(lines[lines.length - 1]).toEqual({ record: path.join(dir, 'bad'), error: expect.stringMatching(/header names 2 signals/) });
    expect(r.err).toMatch(/2 of \d records could not be read/);
  });
  it('finds AF episodes in a beats file: regular, then irregular, then regular', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vigil-ecg-'));
    const fs = 250;
    const beats: number[] = [0];
    let s = 7;
    const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (let i = 0; i < 600; i++) {
      const irregular = i >= 200 && i < 400;
      const rr = irregular ? 0.4 + 0.5 * rand() : 0.8;
      beats.push(beats[beats.length - 1] + Math.round(rr * fs));
    }
    writeFileSync(path.join(dir, 'x.beats'), `# fs=${fs}\n${beats.join('\n')}\n`);
    const r = await cli(['ecg', 'af', path.join(dir, 'x.beats'), '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out.fs).toBe(250);
    expect(out.episodes).toHaveLength(1);
    // Within the learned detector's window + smoothing (afDelayBeats) of the true start and end.
    const edge = afDelayBeats();
    expect(Math.abs(out.episodes[0].start - beats[200])).toBeLessThan(edge * 0.8 * fs);
    expect(Math.abs(out.episodes[0].end - beats[400])).toBeLessThan(edge * 0.8 * fs);
    expect(out.episodes[0].end).toBeGreaterThan(out.episodes[0].start);
  });
  it.skipIf(!HAS_DATA)('detects beats on a real record and classifies CinC records', async () => {
    const r = await cli(['ecg', 'detect', path.join(SHARED_DATA, 'mitdb', '101'), '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out).toMatchObject({ record: '101', fs: 360, lead: 'MLII' });
    expect(out.beats.length).toBeGreaterThan(1850);
    expect(out.beats.length).toBeLessThan(1880);
    const c = await cli(['ecg', 'classify', path.join(SHARED_DATA, 'cinc2017', 'A00003'), path.join(SHARED_DATA, 'cinc2017', 'A00004')]);
    const lines = c.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.record)).toEqual(['A00003', 'A00004']);
    for (const l of lines) expect(['N', 'A', 'O', '~']).toContain(l.label);
  });
});
