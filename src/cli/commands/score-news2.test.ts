import { describe, expect, it } from 'vitest';
import { runCliCaptured } from '../run-captured.ts';

const run = (stdinText: string) => runCliCaptured(['score', 'news2'], stdinText);

const base = {
  respiratoryRate: 16,
  spo2: 97,
  spo2Scale: 1,
  onOxygen: false,
  systolicBP: 120,
  pulse: 70,
  consciousness: 'A',
  temperature: 37,
};

describe('vigil score news2', () => {
  it('prints score, risk and components (NEWS2 chart 1)', async () => {
    const { code, out } = await run(JSON.stringify({ ...base, respiratoryRate: 22, pulse: 112, temperature: 38.4 }));
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({
      score: 5, // RR 22 → 2, pulse 112 → 2, temp 38.4 → 1
      risk: 'medium',
      components: { respiratoryRate: 2, spo2: 0, airOrOxygen: 0, systolicBP: 0, pulse: 2, consciousness: 0, temperature: 1 },
      algorithm: { name: 'news2-rcp-2017', version: '1.0.0' },
    });
  });

  it('scores scale 2 on oxygen', async () => {
    const { out } = await run(JSON.stringify({ ...base, spo2: 95, spo2Scale: 2, onOxygen: true }));
    expect(JSON.parse(out)).toMatchObject({ score: 4, risk: 'low', components: { spo2: 2, airOrOxygen: 2 } });
  });

  it.each([
    [{ ...base, pulse: 'fast' }, 'pulse'],
    [{ ...base, temperature: 99.1 }, 'temperature'],
    [{ ...base, consciousness: 'X' }, 'consciousness'],
    [{ ...base, spo2Scale: 3 }, 'spo2Scale'],
    [{ ...base, onOxygen: 'no' }, 'onOxygen'],
    [(({ respiratoryRate: _r, ...rest }) => rest)(base), 'respiratoryRate'],
  ])('rejects bad input with one line naming the field (%#)', async (input, field) => {
    const { code, out, err } = await run(JSON.stringify(input));
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toContain(`${field}:`);
  });

  it('rejects non-JSON input', async () => {
    const { code, err } = await run('not json');
    expect(code).toBe(1);
    expect(err).toMatch(/not valid JSON/);
  });
});
