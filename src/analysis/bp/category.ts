/**
 * Blood pressure category, ACC/AHA 2017 (Whelton et al., Hypertension 2018, Table 6) plus the AHA
 * patient-facing "hypertensive crisis" band.
 *   normal   SBP <120 and DBP <80
 *   elevated SBP 120–129 and DBP <80
 *   stage1   SBP 130–139 or DBP 80–89
 *   stage2   SBP ≥140 or DBP ≥90
 *   crisis   SBP >180 and/or DBP >120
 * Systolic and diastolic are classified separately and the higher category wins.
 * Averages are rounded to whole mmHg half up before classification (129.5 → 130, stage 1), the
 * resolution at which BP is measured and charted.
 *
 * Home readings run lower than office readings of the same patient: ACC/AHA 2017 Table 11 gives the
 * corresponding home (HBPM) values, office 120/80 = home 120/80, 130/80 = 130/80, 140/90 = 135/85. The
 * `home` thresholds below are those (stage 1 130–134 or 80–84, stage 2 ≥135 or ≥85); the crisis band is a
 * single-reading threshold and stays the same.
 */
export type BpCategory = 'normal' | 'elevated' | 'stage1' | 'stage2' | 'crisis';

const ORDER: readonly BpCategory[] = ['normal', 'elevated', 'stage1', 'stage2', 'crisis'];

export interface BpReading {
  ts: number; // epoch ms
  systolic: number; // mmHg
  diastolic: number; // mmHg
  /** Local offset from UTC at `ts` (minutes), where known: home BP's morning and evening are local hours. */
  offsetMinutes?: number;
}

const roundMmHg = (v: number) => Math.floor(v + 0.5 + 1e-9);

/** Where the readings were taken: the office thresholds (Table 6) or their home equivalents (Table 11). */
export type BpSetting = 'office' | 'home';

/** Lower bound (mmHg) of each band; diastolic has no "elevated" band (<80 is normal). */
const THRESHOLDS: Record<BpSetting, { systolic: { elevated: number; stage1: number; stage2: number }; diastolic: { stage1: number; stage2: number } }> = {
  office: { systolic: { elevated: 120, stage1: 130, stage2: 140 }, diastolic: { stage1: 80, stage2: 90 } },
  home: { systolic: { elevated: 120, stage1: 130, stage2: 135 }, diastolic: { stage1: 80, stage2: 85 } },
};
const CRISIS = { systolic: 180, diastolic: 120 }; // exceeded, not reached (AHA: >180 and/or >120)

function systolicCategory(sbp: number, t: (typeof THRESHOLDS)[BpSetting]['systolic']): BpCategory {
  if (sbp > CRISIS.systolic) return 'crisis';
  if (sbp >= t.stage2) return 'stage2';
  if (sbp >= t.stage1) return 'stage1';
  if (sbp >= t.elevated) return 'elevated';
  return 'normal';
}

function diastolicCategory(dbp: number, t: (typeof THRESHOLDS)[BpSetting]['diastolic']): BpCategory {
  if (dbp > CRISIS.diastolic) return 'crisis';
  if (dbp >= t.stage2) return 'stage2';
  if (dbp >= t.stage1) return 'stage1';
  return 'normal';
}

/** Category of one (averaged) pair, higher of the two wins. */
export function classifyBp(systolic: number, diastolic: number, setting: BpSetting = 'office'): BpCategory {
  if (!Number.isFinite(systolic) || !Number.isFinite(diastolic)) throw new RangeError('systolic and diastolic must be finite mmHg');
  const s = systolicCategory(roundMmHg(systolic), THRESHOLDS[setting].systolic);
  const d = diastolicCategory(roundMmHg(diastolic), THRESHOLDS[setting].diastolic);
  return ORDER.indexOf(s) >= ORDER.indexOf(d) ? s : d;
}

/** A single reading >180 and/or >120 is a crisis on its own (AHA: recheck, then act); it needs no average. */
export function isHypertensiveCrisis(r: Pick<BpReading, 'systolic' | 'diastolic'>): boolean {
  return classifyBp(r.systolic, r.diastolic) === 'crisis';
}

/**
 * Readings separated by at least this gap are different occasions (ACC/AHA: "≥2 readings on ≥2
 * occasions"). 60 min: the readings of one sitting are minutes apart; a morning and an evening
 * measurement, or two clinic visits, are hours or days apart.
 */
export const OCCASION_GAP_MS = 60 * 60_000; // 60 min

export const MIN_READINGS = 2;
export const MIN_OCCASIONS = 2;

export interface BpAverage {
  systolic: number; // mmHg, mean, 1 decimal
  diastolic: number; // mmHg, mean, 1 decimal
  readings: number;
  occasions: number;
}

export type BpClassification =
  | (BpAverage & { sufficient: true; category: BpCategory })
  | (BpAverage & {
      sufficient: false;
      category: null;
      /** Category of whatever was averaged (null with no readings): for display, not a diagnosis. */
      provisionalCategory: BpCategory | null;
      reason: string;
    });

/** Counts occasions: sorted readings, a new occasion after each gap ≥ OCCASION_GAP_MS. */
export function countOccasions(readings: readonly BpReading[], gapMs = OCCASION_GAP_MS): number {
  const ts = readings.map((r) => r.ts).sort((a, b) => a - b);
  let occasions = ts.length ? 1 : 0;
  for (let i = 1; i < ts.length; i++) if (ts[i] - ts[i - 1] >= gapMs) occasions++;
  return occasions;
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/**
 * ACC/AHA 2017 category on the average of the readings. With fewer than 2 readings or 2 occasions
 * the result is `sufficient: false`, `category: null` and a `provisionalCategory`; a crisis is still
 * visible through `provisionalCategory` and `isHypertensiveCrisis` on single readings.
 */
export function classifyBpReadings(readings: readonly BpReading[], gapMs = OCCASION_GAP_MS, setting: BpSetting = 'office'): BpClassification {
  const valid = readings.filter((r) => Number.isFinite(r.systolic) && Number.isFinite(r.diastolic) && Number.isFinite(r.ts));
  const n = valid.length;
  const meanSystolic = n ? valid.reduce((a, r) => a + r.systolic, 0) / n : Number.NaN;
  const meanDiastolic = n ? valid.reduce((a, r) => a + r.diastolic, 0) / n : Number.NaN;
  const avg: BpAverage = { systolic: round1(meanSystolic), diastolic: round1(meanDiastolic), readings: n, occasions: countOccasions(valid, gapMs) };
  // Classified on the mean itself, rounded once (129.45 → 129, elevated); rounding the shown 129.5 again made it 130.
  const provisional = n ? classifyBp(meanSystolic, meanDiastolic, setting) : null;
  if (n < MIN_READINGS || avg.occasions < MIN_OCCASIONS) {
    const reason =
      n < MIN_READINGS ? `needs at least ${MIN_READINGS} readings, has ${n}` : `needs readings on at least ${MIN_OCCASIONS} occasions, has ${avg.occasions}`;
    return { ...avg, sufficient: false, category: null, provisionalCategory: provisional, reason };
  }
  return { ...avg, sufficient: true, category: provisional! };
}
