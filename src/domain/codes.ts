/**
 * The observation codes Vigil understands: LOINC code, UCUM unit, and the physically possible range
 * (a value outside it is a device or transport fault, not a clinical finding) — interfaces.md §3.
 */
export interface CodeInfo {
  code: string;
  /** Shorthand key in the flat telemetry form. */
  key: string;
  display: string;
  unit: string;
  /** Inclusive physical limits. */
  min: number;
  max: number;
  /** FHIR vital-signs profile category applies. */
  vitalSign: boolean;
}

export const CODES: CodeInfo[] = [
  { key: 'hr', code: '8867-4', display: 'Heart rate', unit: '/min', min: 0, max: 350, vitalSign: true },
  { key: 'spo2', code: '59408-5', display: 'Oxygen saturation by pulse oximetry', unit: '%', min: 0, max: 100, vitalSign: true },
  { key: 'rr', code: '9279-1', display: 'Respiratory rate', unit: '/min', min: 0, max: 120, vitalSign: true },
  { key: 'sbp', code: '8480-6', display: 'Systolic blood pressure', unit: 'mm[Hg]', min: 20, max: 320, vitalSign: true },
  { key: 'dbp', code: '8462-4', display: 'Diastolic blood pressure', unit: 'mm[Hg]', min: 10, max: 250, vitalSign: true },
  { key: 'temp', code: '8310-5', display: 'Body temperature', unit: 'Cel', min: 25, max: 45, vitalSign: true },
  { key: 'glucose', code: '2339-0', display: 'Glucose [Mass/volume] in Blood', unit: 'mg/dL', min: 10, max: 700, vitalSign: false },
  { key: 'weight', code: '29463-7', display: 'Body weight', unit: 'kg', min: 0.5, max: 500, vitalSign: true },
  { key: 'steps', code: '55423-8', display: 'Number of steps', unit: '{steps}', min: 0, max: 200000, vitalSign: false },
];

/** Derived observations computed by Vigil's analysis (not accepted from devices). */
export const DERIVED_CODES = {
  news2: { system: 'http://snomed.info/sct', code: '1104051000000101', display: 'NEWS2 total score', unit: '{score}' },
  ecgHeartRate: { system: 'http://loinc.org', code: '8867-4', display: 'Heart rate (from ECG)', unit: '/min' },
  afEpisode: { system: 'http://snomed.info/sct', code: '49436004', display: 'Atrial fibrillation episode', unit: 's' },
  cgmTir: { system: 'http://loinc.org', code: '97510-2', display: 'Glucose time in range (CGM)', unit: '%' },
} as const;

/**
 * ECG sample units a device may send, and how many of each make one millivolt. `adu` (raw ADC units) assumes
 * the MIT-BIH gain of 200 adu/mV; a device with another gain should send uV.
 */
export const ECG_UNIT_PER_MV: Record<string, number> = { uV: 1000, mV: 1, adu: 200 };

export const ECG_CODE = { system: 'urn:oid:2.16.840.1.113883.6.24', code: '131329', display: 'MDC_ECG_ELEC_POTL_II' };

export const BY_KEY = new Map(CODES.map((c) => [c.key, c]));
export const BY_CODE = new Map(CODES.map((c) => [c.code, c]));

/** Accepted spellings of each code's unit (UCUM is canonical); values are converted by `toCanonical`. */
const UNIT_ALIASES: Record<string, Record<string, (v: number) => number>> = {
  '8867-4': { '/min': (v) => v, bpm: (v) => v, '{beats}/min': (v) => v },
  '59408-5': { '%': (v) => v },
  '9279-1': { '/min': (v) => v, '{breaths}/min': (v) => v },
  '8480-6': { 'mm[Hg]': (v) => v, mmHg: (v) => v },
  '8462-4': { 'mm[Hg]': (v) => v, mmHg: (v) => v },
  '8310-5': { Cel: (v) => v, C: (v) => v, '°C': (v) => v, '[degF]': (v) => ((v - 32) * 5) / 9, F: (v) => ((v - 32) * 5) / 9 },
  '2339-0': { 'mg/dL': (v) => v, 'mmol/L': (v) => Math.round(v * 18) }, // whole mg/dL (sensor resolution): 13.9 mmol/L stays ≤ 250
  '29463-7': { kg: (v) => v, '[lb_av]': (v) => v * 0.45359237, lb: (v) => v * 0.45359237 },
  '55423-8': { '{steps}': (v) => v, steps: (v) => v },
};

/** Converts a value in a known unit to the canonical UCUM unit; undefined when the unit is unknown. */
export function toCanonical(code: string, value: number, unit: string | undefined): number | undefined {
  const info = BY_CODE.get(code);
  if (!info) return undefined;
  if (unit === undefined || unit === info.unit) return value;
  // Own properties only: a device's unit is untrusted text, and "constructor" or "__proto__" would otherwise
  // find Object's (the first turned 0 into a Number object, the second threw and dropped the device's connection).
  const aliases = UNIT_ALIASES[code];
  return aliases && Object.hasOwn(aliases, unit) ? aliases[unit](value) : undefined;
}

/** A reading's time may run ahead of the receiver's clock by this much (device clocks drift); more is a broken clock. */
export const READING_MAX_FUTURE_MS = 5 * 60_000;
/** Readings before this are refused: a remote-monitoring reading from before 2000 is a unit mistake (seconds for ms). */
export const READING_MIN_TS = Date.UTC(2000, 0, 1);

/**
 * A time for a message: ISO when JavaScript can represent it (±8.64e15 ms, ECMA-262 §21.4.1.1), the raw
 * number otherwise (`new Date(1e300).toISOString()` throws, which once turned a bad `ts` into an HTTP 500).
 */
export const showTime = (ms: number) => (Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(ms));

/** Why a reading's time (epoch ms) cannot be stored, judged at `now`; null when it can. Devices, CSV and FHIR share it. */
export function readingTimeProblem(ms: number, now: number): string | null {
  if (!Number.isFinite(ms)) return `time ${String(ms)} is not a valid time`;
  if (ms < READING_MIN_TS) return `time ${showTime(ms)} is before 2000 (seconds instead of milliseconds?)`;
  if (ms > now + READING_MAX_FUTURE_MS) return `time ${showTime(ms)} is in the future`;
  return null;
}

/**
 * A reading as a client states it (code, value, unit) checked against the code table: a known code, a unit it
 * accepts, the value converted to the canonical unit and inside the physical range. The canonical reading, or
 * the reason it is refused.
 */
export function canonicalReading(code: string, value: number, unit: string | undefined): { value: number; unit: string } | string {
  const info = BY_CODE.get(code);
  if (!info) return `unknown code ${JSON.stringify(code.slice(0, 64))} (known: ${CODES.map((c) => c.code).join(', ')})`;
  if (!Number.isFinite(value)) return `${info.display}: value must be a finite number`;
  const canonical = toCanonical(code, value, unit);
  if (canonical === undefined) return `${info.display}: unit ${JSON.stringify(unit?.slice(0, 32))} is not accepted (use ${info.unit})`;
  const v = Math.round(canonical * 1e6) / 1e6;
  if (v < info.min || v > info.max) return `${info.display}: ${v} ${info.unit} is outside the possible range ${info.min}–${info.max}`;
  return { value: v, unit: info.unit };
}
