import { describe, expect, it } from 'vitest';
import { classifyBp, classifyBpReadings, countOccasions, isHypertensiveCrisis, type BpReading } from './category.ts';

describe('classifyBp (ACC/AHA 2017 Table 6; crisis >180 and/or >120)', () => {
  it.each([
    // systolic edges with a normal diastolic
    [119, 70, 'normal'],
    [120, 70, 'elevated'],
    [129, 70, 'elevated'],
    [130, 70, 'stage1'],
    [139, 70, 'stage1'],
    [140, 70, 'stage2'],
    [180, 70, 'stage2'],
    [181, 70, 'crisis'],
    // diastolic edges with a normal systolic (no "elevated" band for diastolic)
    [110, 79, 'normal'],
    [110, 80, 'stage1'],
    [110, 89, 'stage1'],
    [110, 90, 'stage2'],
    [110, 120, 'stage2'],
    [110, 121, 'crisis'],
    // higher category wins
    [125, 79, 'elevated'],
    [125, 80, 'stage1'],
    [135, 92, 'stage2'],
    [145, 85, 'stage2'],
    [182, 95, 'crisis'],
    [150, 125, 'crisis'],
  ] as const)('%s/%s → %s', (s, d, want) => expect(classifyBp(s, d)).toBe(want));

  it('rounds averages half up to whole mmHg before banding (our decision)', () => {
    expect(classifyBp(119.4, 70)).toBe('normal');
    expect(classifyBp(119.5, 70)).toBe('elevated');
    expect(classifyBp(129.5, 79.4)).toBe('stage1');
    expect(classifyBp(110, 79.5)).toBe('stage1');
    expect(classifyBp(180.5, 70)).toBe('crisis');
  });

  it.each([
    // ACC/AHA 2017 Table 11: home 120/80, 130/80 and 135/85 correspond to office 120/80, 130/80 and 140/90.
    [119, 79, 'normal'],
    [120, 79, 'elevated'],
    [130, 79, 'stage1'],
    [134, 84, 'stage1'],
    [135, 70, 'stage2'],
    [110, 85, 'stage2'],
    [180, 120, 'stage2'],
    [181, 80, 'crisis'],
  ] as const)('at home %s/%s → %s', (s, d, want) => expect(classifyBp(s, d, 'home')).toBe(want));

  it('a home average of 137/86 is stage 1 by the office bands and stage 2 by the home bands', () => {
    expect(classifyBp(137, 86)).toBe('stage1');
    expect(classifyBp(137, 86, 'home')).toBe('stage2');
  });

  it('flags a single crisis reading', () => {
    expect(isHypertensiveCrisis({ systolic: 181, diastolic: 80 })).toBe(true);
    expect(isHypertensiveCrisis({ systolic: 180, diastolic: 120 })).toBe(false);
    expect(isHypertensiveCrisis({ systolic: 150, diastolic: 121 })).toBe(true);
  });
});

const H = 3_600_000;
const r = (hours: number, systolic: number, diastolic: number): BpReading => ({ ts: hours * H, systolic, diastolic });

describe('classifyBpReadings (average of ≥2 readings on ≥2 occasions)', () => {
  it('classifies the average of two occasions', () => {
    const c = classifyBpReadings([r(0, 128, 78), r(0.05, 132, 80), r(24, 136, 84), r(24.05, 134, 82)]);
    expect(c).toEqual({ sufficient: true, category: 'stage1', systolic: 132.5, diastolic: 81, readings: 4, occasions: 2 });
  });

  it('classifies the mean rounded once: 129 and 129.9 average 129.45, elevated (found by review: 129.5 shown, then rounded again to 130)', () => {
    const r = classifyBpReadings([
      { ts: 0, systolic: 129, diastolic: 70 },
      { ts: 2 * 3_600_000, systolic: 129.9, diastolic: 70 },
    ]);
    expect(r).toMatchObject({ sufficient: true, category: 'elevated', systolic: 129.5 });
  });

  it('is insufficient with one reading, and says why', () => {
    expect(classifyBpReadings([r(0, 150, 95)])).toMatchObject({
      sufficient: false,
      category: null,
      provisionalCategory: 'stage2',
      readings: 1,
      occasions: 1,
      reason: 'needs at least 2 readings, has 1',
    });
  });

  it('is insufficient with many readings on one occasion', () => {
    expect(classifyBpReadings([r(0, 122, 70), r(0.1, 124, 72), r(0.9, 126, 74)])).toMatchObject({
      sufficient: false,
      provisionalCategory: 'elevated',
      occasions: 1,
      reason: 'needs readings on at least 2 occasions, has 1',
    });
  });

  it('returns nulls with no readings', () => {
    expect(classifyBpReadings([])).toMatchObject({ sufficient: false, category: null, provisionalCategory: null, readings: 0 });
  });

  it('counts a new occasion from a 60 min gap, not before', () => {
    expect(countOccasions([r(0, 120, 80), r(59 / 60, 120, 80)])).toBe(1);
    expect(countOccasions([r(0, 120, 80), r(1, 120, 80)])).toBe(2);
  });
});
