/** One CGM value. CGMs report whole mg/dL between 40 and 400; we keep whatever the device sent. */
export interface CgmReading {
  ts: number; // epoch ms
  mgdl: number; // mg/dL
  /** The reading's own UTC offset when its source said (a CSV time with +02:00): across a daylight-saving change it differs from the period's. */
  offsetMinutes?: number;
}

export const MG_DL_PER_MMOL_L = 18; // clinical reference: mg/dL = mmol/L × 18
export const DEFAULT_INTERVAL_MIN = 5; // min, Dexcom G6/G7 and most CGMs; Libre 2/3 = 1 min, Libre 1 = 15 min
export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;

/** Glucose thresholds, mg/dL (Battelino 2019, Table 1/2). */
export const GLUCOSE = {
  veryLow: 54, // level 2 hypoglycaemia below this
  low: 70, // level 1 hypoglycaemia below this
  high: 180, // level 1 hyperglycaemia above this
  veryHigh: 250, // level 2 hyperglycaemia above this
  pregnancyLow: 63, // pregnancy range 63–140
  pregnancyHigh: 140,
} as const;

/**
 * No CGM samples more often than once a minute (Libre 2/3): readings closer than this are one measurement sent
 * twice (a re-sync), and counting both tilted the percentages (found by review: TBR 15.4 % for 8.3 %).
 */
export const SAME_READING_MS = 30_000;

/** Sorted by time, one reading per measurement (the first of any within SAME_READING_MS wins), non-finite values dropped. */
export function normalizeReadings(readings: readonly CgmReading[]): CgmReading[] {
  const sorted = readings.filter((r) => Number.isFinite(r.ts) && Number.isFinite(r.mgdl)).sort((a, b) => a.ts - b.ts);
  const out: CgmReading[] = [];
  for (const r of sorted) if (!out.length || r.ts - out[out.length - 1].ts >= SAME_READING_MS) out.push(r);
  return out;
}
