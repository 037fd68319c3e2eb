import { ucumConversion, type Conversion } from './units.ts';
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

/**
 * Unit spellings devices send that are not UCUM, or that mean something else in UCUM (C is the coulomb, F the farad,
 * lb nothing): their UCUM unit. Everything else is read as UCUM (units.ts).
 */
const DEVICE_SPELLINGS: Record<string, string> = {
  bpm: '/min',
  mmHg: 'mm[Hg]',
  C: 'Cel',
  '°C': 'Cel',
  F: '[degF]',
  '°F': '[degF]',
  lb: '[lb_av]',
  lbs: '[lb_av]',
  steps: '{steps}',
};
/** What UCUM needs beyond the units for some codes: glucose's molar mass (mmol/L ↔ mg/dL, 180.156 g/mol). */
const MOLAR_MASS: Record<string, number> = { '2339-0': 180.156 };
/** Converted glucose is kept in whole mg/dL, the sensors' resolution (13.9 mmol/L stays ≤ 250). */
const WHOLE_AFTER_CONVERSION = new Set(['2339-0']);

/**
 * Per code, unit text → its conversion to the code's unit. Unit text comes from devices and files: only short
 * printable text reaches the caches or the library (found by review: megabyte units were kept as refusals), units
 * that convert are kept apart from refusals (junk cannot crowd out the real ones), and both are bounded.
 */
const converts = new Map<string, Map<string, Conversion>>();
const refused = new Map<string, Set<string>>();
const MAX_CACHED_UNITS = 500;
/** UCUM's character set is printable ASCII without spaces (UCUM §2.1); anything else is refused before parsing. */
const UCUM_TEXT = /^[\x21-\x7e]{1,40}$/;

function conversionOf(info: CodeInfo, unit: string): Conversion | null {
  const known = converts.get(info.code)?.get(unit);
  if (known) return known;
  if (refused.get(info.code)?.has(unit)) return null;
  // Own properties only: "constructor" or "__proto__" would otherwise find Object's (found by review).
  const ucum = Object.hasOwn(DEVICE_SPELLINGS, unit) ? DEVICE_SPELLINGS[unit] : unit;
  if (!UCUM_TEXT.test(ucum)) return null;
  const c = ucum === info.unit ? { scale: 1, offset: 0 } : ucumConversion(ucum, info.unit, MOLAR_MASS[info.code]);
  // (a flood of distinct units starts a cache again rather than growing it)
  if (c) {
    const byCode = converts.get(info.code) ?? new Map<string, Conversion>();
    if (byCode.size >= MAX_CACHED_UNITS) byCode.clear();
    converts.set(info.code, byCode.set(unit, c));
  } else {
    const byCode = refused.get(info.code) ?? new Set<string>();
    if (byCode.size >= MAX_CACHED_UNITS) byCode.clear();
    refused.set(info.code, byCode.add(unit));
  }
  return c;
}

/**
 * Converts a value in a unit to the code's canonical UCUM unit (units.ts); undefined when the unit does not convert.
 * Converted values are rounded to 1e-6 (floating-point noise: 98.6 [degF] is 37, not 37.00000000000159, which a
 * threshold at 37 would see as above it), glucose to whole mg/dL.
 */
export function toCanonical(code: string, value: number, unit: string | undefined): number | undefined {
  const info = BY_CODE.get(code);
  if (!info) return undefined;
  if (unit === undefined || unit === info.unit) return value;
  if (typeof unit !== 'string') return undefined;
  const c = conversionOf(info, unit);
  if (!c) return undefined;
  if (c.scale === 1 && c.offset === 0) return value;
  const v = value * c.scale + c.offset;
  return WHOLE_AFTER_CONVERSION.has(code) ? Math.round(v) : Math.round(v * 1e6) / 1e6;
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
