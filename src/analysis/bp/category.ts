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
 */
export type BpCategory = 'normal' | 'elevated' | 'stage1' | 'stage2' | 'crisis';

const ORDER: readonly BpCategory[] = ['normal', 'elevated', 'stage1', 'stage2', 'crisis'];

export interface BpReading {
  ts: number; // epoch ms
  systolic: number; // mmHg
  diastolic: number; // mmHg
}

const roundMmHg = (v: number) => Math.floor(v + 0.5 + 1e-9);

function systolicCategory(sbp: number): BpCategory {
  if (sbp > 180) return 'crisis';
  if (sbp >= 140) return 'stage2';
  if (sbp >= 130) return 'stage1';
  if (sbp >= 120) return 'elevated';
  return 'normal';
}

/** Diastolic has no "elevated" band: <80 is normal. */
function diastolicCategory(dbp: number): BpCategory {
  if (dbp > 120) return 'crisis';
  if (dbp >= 90) return 'stage2';
  if (dbp >= 80) return 'stage1';
  return 'normal';
}

/** Category of one (averaged) pair, higher of the two wins. */
export function classifyBp(systolic: number, diastolic: number): BpCategory {
  if (!Number.isFinite(systolic) || !Number.isFinite(diastolic)) throw new RangeError('systolic and diastolic must be finite mmHg');
  const s = systolicCategory(roundMmHg(systolic));
  const d = diastolicCategory(roundMmHg(diastolic));
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
export function classifyBpReadings(readings: readonly BpReading[], gapMs = OCCASION_GAP_MS): BpClassification {
  const valid = readings.filter((r) => Number.isFinite(r.systolic) && Number.isFinite(r.diastolic) && Number.isFinite(r.ts));
  const n = valid.length;
  const meanSystolic = n ? valid.reduce((a, r) => a + r.systolic, 0) / n : Number.NaN;
  const meanDiastolic = n ? valid.reduce((a, r) => a + r.diastolic, 0) / n : Number.NaN;
  const avg: BpAverage = { systolic: round1(meanSystolic), diastolic: round1(meanDiastolic), readings: n, occasions: countOccasions(valid, gapMs) };
  // Classified on the mean itself, rounded once (129.45 → 129, elevated); rounding the shown 129.5 again made it 130.
  const provisional = n ? classifyBp(meanSystolic, meanDiastolic) : null;
  if (n < MIN_READINGS || avg.occasions < MIN_OCCASIONS) {
    const reason =
      n < MIN_READINGS ? `needs at least ${MIN_READINGS} readings, has ${n}` : `needs readings on at least ${MIN_OCCASIONS} occasions, has ${avg.occasions}`;
    return { ...avg, sufficient: false, category: null, provisionalCategory: provisional, reason };
  }
  return { ...avg, sufficient: true, category: provisional! };
}
