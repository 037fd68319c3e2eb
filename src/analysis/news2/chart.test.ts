import { describe, expect, it } from 'vitest';
import {
  roundInteger,
  roundTenth,
  scoreAirOrOxygen,
  scoreConsciousness,
  scorePulse,
  scoreRespiratoryRate,
  scoreSpo2Scale1,
  scoreSpo2Scale2,
  scoreSystolicBP,
  scoreTemperature,
} from './chart.ts';

// Every case is [value, expected score]; each band edge appears with its neighbour on the other side.
const table = (fn: (v: number) => number, cases: [number, number][]) => it.each(cases)('%s → %s', (v, want) => expect(fn(v)).toBe(want));

describe('respiration rate (NEWS2 chart 1: ≤8 3 | 9–11 1 | 12–20 0 | 21–24 2 | ≥25 3)', () => {
  table(scoreRespiratoryRate, [
    [0, 3],
    [8, 3],
    [9, 1],
    [11, 1],
    [12, 0],
    [20, 0],
    [21, 2],
    [24, 2],
    [25, 3],
    [60, 3],
  ]);
});

describe('SpO2 scale 1 (NEWS2 chart 1: ≤91 3 | 92–93 2 | 94–95 1 | ≥96 0)', () => {
  table(scoreSpo2Scale1, [
    [70, 3],
    [91, 3],
    [92, 2],
    [93, 2],
    [94, 1],
    [95, 1],
    [96, 0],
    [100, 0],
  ]);
});

describe('SpO2 scale 2 (NEWS2 chart 1: ≤83 3 | 84–85 2 | 86–87 1 | 88–92 0 | ≥93 air 0 | O2: 93–94 1, 95–96 2, ≥97 3)', () => {
  describe('on air', () => {
    table(
      (v) => scoreSpo2Scale2(v, false),
      [
        [70, 3],
        [83, 3],
        [84, 2],
        [85, 2],
        [86, 1],
        [87, 1],
        [88, 0],
        [92, 0],
        [93, 0],
        [94, 0],
        [95, 0],
        [96, 0],
        [97, 0],
        [100, 0],
      ],
    );
  });
  describe('on oxygen', () => {
    table(
      (v) => scoreSpo2Scale2(v, true),
      [
        [83, 3],
        [84, 2],
        [85, 2],
        [86, 1],
        [87, 1],
        [88, 0],
        [92, 0],
        [93, 1],
        [94, 1],
        [95, 2],
        [96, 2],
        [97, 3],
        [100, 3],
      ],
    );
  });
});

describe('air or oxygen (NEWS2 chart 1: oxygen 2, air 0)', () => {
  it('scores 2 on oxygen and 0 on air', () => {
    expect(scoreAirOrOxygen(true)).toBe(2);
    expect(scoreAirOrOxygen(false)).toBe(0);
  });
});

describe('systolic BP (NEWS2 chart 1: ≤90 3 | 91–100 2 | 101–110 1 | 111–219 0 | ≥220 3)', () => {
  table(scoreSystolicBP, [
    [50, 3],
    [90, 3],
    [91, 2],
    [100, 2],
    [101, 1],
    [110, 1],
    [111, 0],
    [219, 0],
    [220, 3],
    [280, 3],
  ]);
});

describe('pulse (NEWS2 chart 1: ≤40 3 | 41–50 1 | 51–90 0 | 91–110 1 | 111–130 2 | ≥131 3)', () => {
  table(scorePulse, [
    [30, 3],
    [40, 3],
    [41, 1],
    [50, 1],
    [51, 0],
    [90, 0],
    [91, 1],
    [110, 1],
    [111, 2],
    [130, 2],
    [131, 3],
    [200, 3],
  ]);
});

describe('consciousness (NEWS2 chart 1: alert 0; new confusion, voice, pain, unresponsive 3)', () => {
  it.each([
    ['A', 0],
    ['C', 3],
    ['V', 3],
    ['P', 3],
    ['U', 3],
  ] as const)('%s → %s', (level, want) => expect(scoreConsciousness(level)).toBe(want));
  it('rejects an unknown level', () => expect(() => scoreConsciousness('X' as 'A')).toThrow(RangeError));
});

describe('temperature (NEWS2 chart 1: ≤35.0 3 | 35.1–36.0 1 | 36.1–38.0 0 | 38.1–39.0 1 | ≥39.1 2)', () => {
  table(scoreTemperature, [
    [33, 3],
    [35.0, 3],
    [35.1, 1],
    [36.0, 1],
    [36.1, 0],
    [38.0, 0],
    [38.1, 1],
    [39.0, 1],
    [39.1, 2],
    [41, 2],
  ]);
});

describe('rounding decision (ours: integers half up; temperature to 0.1 °C half up)', () => {
  it('rounds integer parameters half up before banding', () => {
    expect(roundInteger(20.5)).toBe(21);
    expect(roundInteger(20.49)).toBe(20);
    expect(scoreRespiratoryRate(20.4)).toBe(0);
    expect(scoreRespiratoryRate(20.5)).toBe(2); // rounds to 21
    expect(scoreSpo2Scale1(95.5)).toBe(0); // rounds to 96
    expect(scoreSystolicBP(90.5)).toBe(2); // rounds to 91
    expect(scorePulse(50.5)).toBe(0); // rounds to 51
  });
  it('rounds temperature to one decimal half up before banding', () => {
    expect(roundTenth(35.05)).toBe(35.1);
    expect(roundTenth(38.04)).toBe(38.0);
    expect(scoreTemperature(35.04)).toBe(3); // 35.0
    expect(scoreTemperature(35.05)).toBe(1); // 35.1
    expect(scoreTemperature(38.05)).toBe(1); // 38.1
    expect(scoreTemperature(39.049)).toBe(1); // 39.0
  });
  it('rejects non-finite values', () => {
    expect(() => scorePulse(Number.NaN)).toThrow(RangeError);
    expect(() => scoreTemperature(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});
