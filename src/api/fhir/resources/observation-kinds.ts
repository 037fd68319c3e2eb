import { CODES, DERIVED_CODES, ECG_CODE } from '../../../domain/codes.ts';
import type { Token } from '../search/params.ts';

/**
 * What each kind of stored row means in FHIR: its codings, category and profile. Search (code, category)
 * and mapping both read this one table, so a row can never be found under a code it is not shown with.
 * Sources: FHIR R4 vital-signs profiles (§observation-vitalsigns), observation-category code system.
 */

export const LOINC = 'http://loinc.org';
export const MDC = ECG_CODE.system;
export const CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/observation-category';
export type Category = 'vital-signs' | 'laboratory' | 'survey' | 'procedure' | 'activity';
export const CATEGORY_DISPLAY: Record<Category, string> = {
  'vital-signs': 'Vital Signs',
  laboratory: 'Laboratory',
  survey: 'Survey',
  procedure: 'Procedure',
  activity: 'Activity',
};

export interface Coding {
  system: string;
  code: string;
  display: string;
}

export interface ObservationKind {
  key: string;
  /** Where the rows live: a reading (stored system/code, derived or not), the BP panel pairing, or ECG chunks. */
  source: { table: 'readings'; system: string; code: string; derived: boolean } | { table: 'bp' } | { table: 'ecg' };
  codings: Coding[];
  text: string;
  category?: Category;
  /** A FHIR R4 vital-signs profile the resource claims (and is validated against in tests). */
  profile?: string;
}

const VS = (name: string) => `http://hl7.org/fhir/StructureDefinition/${name}`;
const VITAL_PROFILE: Record<string, string> = {
  '8867-4': VS('heartrate'),
  '9279-1': VS('resprate'),
  '59408-5': VS('oxygensat'),
  '8310-5': VS('bodytemp'),
  '29463-7': VS('bodyweight'),
  '8480-6': VS('vitalsigns'),
  '8462-4': VS('vitalsigns'),
};

const readingKinds: ObservationKind[] = CODES.map((c) => ({
  key: c.key,
  source: { table: 'readings', system: LOINC, code: c.code, derived: false },
  codings: [
    { system: LOINC, code: c.code, display: c.display },
    // The oxygensat profile requires 2708-6 (arterial O2 saturation) beside the pulse-oximetry code.
    ...(c.code === '59408-5' ? [{ system: LOINC, code: '2708-6', display: 'Oxygen saturation in Arterial blood' }] : []),
  ],
  text: c.display,
  category: c.vitalSign ? 'vital-signs' : c.code === '55423-8' ? 'activity' : 'laboratory',
  profile: c.vitalSign ? VITAL_PROFILE[c.code] : undefined,
}));

const derivedKinds: ObservationKind[] = [
  {
    key: 'news2',
    source: { table: 'readings', system: DERIVED_CODES.news2.system, code: DERIVED_CODES.news2.code, derived: true },
    codings: [{ system: DERIVED_CODES.news2.system, code: DERIVED_CODES.news2.code, display: DERIVED_CODES.news2.display }],
    text: DERIVED_CODES.news2.display,
    category: 'survey',
  },
  {
    // Heart rate measured on the ECG: MDC_ECG_HEART_RATE (ISO/IEEE 11073-10101), category procedure, so it
    // never mixes into vital-sign heart-rate searches (LOINC 8867-4) of the pulse oximeter or cuff.
    key: 'ecgHeartRate',
    source: { table: 'readings', system: DERIVED_CODES.ecgHeartRate.system, code: DERIVED_CODES.ecgHeartRate.code, derived: true },
    codings: [{ system: MDC, code: '147842', display: 'MDC_ECG_HEART_RATE' }],
    text: DERIVED_CODES.ecgHeartRate.display,
    category: 'procedure',
  },
  {
    key: 'afEpisode',
    source: { table: 'readings', system: DERIVED_CODES.afEpisode.system, code: DERIVED_CODES.afEpisode.code, derived: true },
    codings: [{ system: DERIVED_CODES.afEpisode.system, code: DERIVED_CODES.afEpisode.code, display: DERIVED_CODES.afEpisode.display }],
    text: DERIVED_CODES.afEpisode.display,
    category: 'procedure',
  },
  {
    key: 'cgmTir',
    source: { table: 'readings', system: DERIVED_CODES.cgmTir.system, code: DERIVED_CODES.cgmTir.code, derived: true },
    codings: [{ system: DERIVED_CODES.cgmTir.system, code: DERIVED_CODES.cgmTir.code, display: DERIVED_CODES.cgmTir.display }],
    text: DERIVED_CODES.cgmTir.display,
    category: 'laboratory',
  },
];

export const BP_KIND: ObservationKind = {
  key: 'bp',
  source: { table: 'bp' },
  codings: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel with all children optional' }],
  text: 'Blood pressure',
  category: 'vital-signs',
  profile: VS('bp'),
};

export const ECG_KIND: ObservationKind = {
  key: 'ecg',
  source: { table: 'ecg' },
  codings: [{ system: ECG_CODE.system, code: ECG_CODE.code, display: ECG_CODE.display }],
  text: 'ECG',
  category: 'procedure',
};

export const KINDS: ObservationKind[] = [...readingKinds, ...derivedKinds, BP_KIND, ECG_KIND];

export function kindOfReading(system: string, code: string, derived: boolean): ObservationKind | undefined {
  return KINDS.find((k) => k.source.table === 'readings' && k.source.system === system && k.source.code === code && k.source.derived === derived);
}

const tokenMatches = (t: Token, c: { system: string; code: string }) =>
  (t.system === undefined || t.system === c.system) && (t.code === undefined || t.code === c.code) && t.system !== null;

/** The kinds one `code` value matches (`:text` searches the display and text, case-insensitively). */
export function kindsForCode(t: Token | { text: string }): ObservationKind[] {
  if ('text' in t) {
    const needle = t.text.toLowerCase();
    return KINDS.filter((k) => k.text.toLowerCase().includes(needle) || k.codings.some((c) => c.display.toLowerCase().includes(needle)));
  }
  return KINDS.filter((k) => k.codings.some((c) => tokenMatches(t, c)));
}

export function kindsForCategory(t: Token): ObservationKind[] {
  return KINDS.filter((k) => k.category && tokenMatches(t, { system: CATEGORY_SYSTEM, code: k.category }));
}
