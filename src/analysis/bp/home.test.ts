import { describe, expect, it } from 'vitest';
import { homeBpAverages } from './home.ts';
import type { BpReading } from './category.ts';

const DAY = 86_400_000;
const H = 3_600_000;
const NOW = Date.parse('2026-11-24T21:00:00Z');
const MIDNIGHT = Date.parse('2026-11-24T00:00:00Z');

describe('homeBpAverages (7-day window, morning 04–12 h, evening 17–24 h local)', () => {
  const readings: BpReading[] = [];
  for (let d = 0; d < 7; d++) {
    readings.push({ ts: MIDNIGHT - d * DAY + 7 * H, systolic: 140, diastolic: 90 }); // morning
    readings.push({ ts: MIDNIGHT - d * DAY + 20 * H, systolic: 120, diastolic: 76 }); // evening
  }
  readings.push({ ts: NOW - 8 * DAY, systolic: 200, diastolic: 130 }); // outside the window
  readings.push({ ts: MIDNIGHT + 14 * H, systolic: 100, diastolic: 60 }); // afternoon: overall only

  // overall: (7×140 + 7×120 + 100) / 15 = 128; (7×90 + 7×76 + 60) / 15 = 81.47 → 81.5
  it('averages overall, morning and evening separately', () => {
    const s = homeBpAverages(readings, NOW);
    expect(s.windowStart).toBe(NOW - 7 * DAY);
    expect(s.overall).toMatchObject({ sufficient: true, readings: 15, systolic: 128, diastolic: 81.5, category: 'stage1' });
    expect(s.morning).toMatchObject({ sufficient: true, readings: 7, systolic: 140, diastolic: 90, category: 'stage2' });
    expect(s.evening).toMatchObject({ sufficient: true, readings: 7, systolic: 120, diastolic: 76, category: 'elevated' });
  });

  it('classifies the home averages with the home thresholds (ACC/AHA 2017 Table 11)', () => {
    const week = [0, 1, 2].flatMap((d) => [
      { ts: MIDNIGHT - d * DAY + 7 * H, systolic: 137, diastolic: 84 },
      { ts: MIDNIGHT - d * DAY + 20 * H, systolic: 137, diastolic: 84 },
    ]);
    expect(homeBpAverages(week, NOW).overall).toMatchObject({ systolic: 137, category: 'stage2' });
  });

  it('takes each reading’s own offset where known (a daylight-saving change inside the week)', () => {
    // 16:30Z is 17:30 local at +60 (evening), but 16:30 at 0 (neither morning nor evening).
    const two = [
      { ts: MIDNIGHT - DAY + 16.5 * H, systolic: 150, diastolic: 95, offsetMinutes: 60 },
      { ts: MIDNIGHT + 16.5 * H, systolic: 110, diastolic: 70, offsetMinutes: 0 },
    ];
    expect(homeBpAverages(two, NOW).evening).toMatchObject({ readings: 1, systolic: 150 });
  });

  it('splits by the patient’s local time', () => {
    // At UTC+10, 07:00Z is 17:00 local (evening) and 20:00Z is 06:00 local (morning).
    const s = homeBpAverages(readings, NOW, { utcOffsetMinutes: 600 });
    expect(s.morning).toMatchObject({ systolic: 120, diastolic: 76 });
    expect(s.evening).toMatchObject({ systolic: 140, diastolic: 90 });
  });
});
