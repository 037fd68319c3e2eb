import { describe, expect, it } from 'vitest';
import { NEWS2_ALGORITHM, news2Risk, scoreNews2, type News2Observations } from './score.ts';

const normal: News2Observations = {
  respiratoryRate: 16,
  spo2: 97,
  spo2Scale: 1,
  onOxygen: false,
  systolicBP: 120,
  pulse: 70,
  consciousness: 'A',
  temperature: 37,
};

describe('NEWS2 aggregate and risk (RCP 2017 table 1)', () => {
  it('identifies its rule set', () => expect(NEWS2_ALGORITHM).toEqual({ name: 'news2-rcp-2017', version: '1.0.0' }));

  it('scores a normal set 0, low', () => {
    expect(scoreNews2(normal)).toEqual({
      score: 0,
      risk: 'low',
      components: { respiratoryRate: 0, spo2: 0, airOrOxygen: 0, systolicBP: 0, pulse: 0, consciousness: 0, temperature: 0 },
    });
  });

  it('reaches the maximum of 20', () => {
    const worst = scoreNews2({
      respiratoryRate: 30,
      spo2: 80,
      spo2Scale: 1,
      onOxygen: true,
      systolicBP: 80,
      pulse: 140,
      consciousness: 'U',
      temperature: 34,
    });
    expect(worst.score).toBe(20); // 3+3+2+3+3+3+3
    expect(worst.risk).toBe('high');
  });

  it('bands by aggregate: 4 low, 5 medium, 6 medium, 7 high', () => {
    expect(news2Risk(4, [1, 1, 1, 1])).toBe('low');
    expect(news2Risk(5, [2, 2, 1])).toBe('medium');
    expect(news2Risk(6, [2, 2, 2])).toBe('medium');
    expect(news2Risk(7, [2, 2, 2, 1])).toBe('high');
  });

  it('a single 3 with aggregate 0–4 is low-medium; with 5–6 it stays medium', () => {
    expect(scoreNews2({ ...normal, consciousness: 'C' })).toMatchObject({ score: 3, risk: 'low-medium' });
    expect(scoreNews2({ ...normal, consciousness: 'V', pulse: 95 })).toMatchObject({ score: 4, risk: 'low-medium' });
    expect(scoreNews2({ ...normal, consciousness: 'P', pulse: 115 })).toMatchObject({ score: 5, risk: 'medium' });
    expect(scoreNews2({ ...normal, consciousness: 'U', systolicBP: 85 })).toMatchObject({ score: 6, risk: 'medium' });
  });

  it('oxygen adds 2 (NEWS2 chart 1 air/oxygen row) on either scale', () => {
    expect(scoreNews2({ ...normal, onOxygen: true }).score).toBe(2);
    expect(scoreNews2({ ...normal, spo2Scale: 2, spo2: 90, onOxygen: true }).score).toBe(2);
  });

  it('uses scale 2 only when the patient is set to scale 2', () => {
    // SpO2 88 %: scale 1 scores 3, scale 2 (88–92 target) scores 0.
    expect(scoreNews2({ ...normal, spo2: 88 }).components.spo2).toBe(3);
    expect(scoreNews2({ ...normal, spo2: 88, spo2Scale: 2 }).components.spo2).toBe(0);
    // SpO2 97 % on oxygen: scale 1 scores 0 (+2 for oxygen); scale 2 scores 3 (+2).
    expect(scoreNews2({ ...normal, spo2: 97, onOxygen: true }).score).toBe(2);
    expect(scoreNews2({ ...normal, spo2: 97, onOxygen: true, spo2Scale: 2 })).toMatchObject({ score: 5, risk: 'medium' });
  });
  it('refuses values no patient has, naming the field (found by review: RR -5, SpO2 180 and 98.6 read as °C scored 11)', () => {
    const ok = {
      respiratoryRate: 16,
      spo2: 97,
      spo2Scale: 1 as const,
      onOxygen: false,
      systolicBP: 120,
      pulse: 70,
      consciousness: 'A' as const,
      temperature: 37,
    };
    expect(scoreNews2(ok).score).toBe(0);
    expect(() => scoreNews2({ ...ok, respiratoryRate: -5 })).toThrow(/respiratoryRate: -5 is outside 0–100/);
    expect(() => scoreNews2({ ...ok, spo2: 180 })).toThrow(/spo2: 180 is outside 0–100 %/);
    expect(() => scoreNews2({ ...ok, temperature: 98.6 })).toThrow(/temperature: 98.6 is outside 20–45 °C/);
    expect(() => scoreNews2({ ...ok, pulse: Number.NaN })).toThrow(/pulse/);
  });
});
