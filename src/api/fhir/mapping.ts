import type { Patient, Practitioner } from '../../store/patients.repository.ts';
import type { Device } from '../../store/devices.repository.ts';
import { ECG_UNIT_PER_MV } from '../../domain/codes.ts';
import { toFhirId } from './ids.ts';
import { BP_KIND, CATEGORY_DISPLAY, CATEGORY_SYSTEM, ECG_KIND, LOINC, kindOfReading, type ObservationKind } from './resources/observation-kinds.ts';
import type { ObservationRow } from './resources/observation.store.ts';

/**
 * Pure mapping from Vigil's records to FHIR R4 resources (no HTTP, no SQL here). Readings follow the R4
 * vital-signs profiles where one applies (see observation-kinds.ts and docs/fhir.md).
 */

export type Resource = {
  resourceType: string;
  id: string;
  meta?: { versionId?: string; lastUpdated?: string; profile?: string[]; tag?: unknown[] };
  [k: string]: unknown;
};

const UCUM = 'http://unitsofmeasure.org';
export const SYSTEM_MRN = 'urn:vigil:mrn';
export const SYSTEM_PATIENT_ID = 'urn:vigil:patient';
export const SYSTEM_DEVICE_ID = 'urn:vigil:device';

/**
 * meta.versionId: a Patient, Practitioner or Device counts its FHIR updates (the `version` column); readings
 * are never edited in place (a measurement is immutable), so they stay at version 1.
 */
const meta = (lastUpdated: number | string, profile?: string, version = 1) => ({
  versionId: String(version),
  lastUpdated: typeof lastUpdated === 'number' ? new Date(lastUpdated).toISOString() : lastUpdated,
  ...(profile ? { profile: [profile] } : {}),
});

const ref = (type: string, id: string) => ({ reference: `${type}/${toFhirId(id)}` });

export function patientResource(p: Patient): Resource {
  return {
    resourceType: 'Patient',
    id: toFhirId(p.id),
    meta: meta(p.updatedAt ?? p.createdAt, undefined, p.version ?? 1),
    identifier: [{ system: SYSTEM_PATIENT_ID, value: p.id }, ...(p.mrn ? [{ system: SYSTEM_MRN, value: p.mrn }] : [])],
    active: true,
    name: [{ text: p.name, ...splitName(p.name) }],
    ...(p.sex ? { gender: p.sex } : {}),
    ...(p.birthDate ? { birthDate: p.birthDate } : {}),
  };
}

export function splitName(name: string) {
  const parts = name.trim().split(/\s+/);
  return parts.length > 1 ? { family: parts[parts.length - 1], given: parts.slice(0, -1) } : { family: parts[0] };
}

/** What a Practitioner or Device row adds for versioning (migration 031). */
export interface Versioned {
  version?: number;
  updatedAt?: number | null;
}

export function practitionerResource(p: Practitioner & { createdAt?: number } & Versioned): Resource {
  return {
    resourceType: 'Practitioner',
    id: toFhirId(p.id),
    meta: meta(p.updatedAt ?? p.createdAt ?? 0, undefined, p.version ?? 1),
    active: true,
    name: [{ text: p.name, ...splitName(p.name) }],
    ...(p.qualification ? { qualification: [{ code: { text: p.qualification } }] } : {}),
  };
}

export function deviceResource(d: Device & Versioned): Resource {
  return {
    resourceType: 'Device',
    id: toFhirId(d.id),
    meta: meta(d.updatedAt ?? d.createdAt, undefined, d.version ?? 1),
    // The internal id is the MQTT username devices connect with.
    identifier: [{ system: SYSTEM_DEVICE_ID, value: d.id }],
    status: 'active',
    type: { text: d.type },
    ...(d.name ? { deviceName: [{ name: d.name, type: 'user-friendly-name' }] } : {}),
    ...(d.patientId ? { patient: ref('Patient', d.patientId) } : {}),
    ...(d.battery !== null ? { property: [{ type: { text: 'battery' }, valueQuantity: [{ value: d.battery, unit: '%', system: UCUM, code: '%' }] }] } : {}),
  };
}

/** The FHIR id of an Observation row: a reading's number, `bp-<systolic id>`, `ecg-<chunk id>`. */
export function observationId(k: 'r' | 'b' | 'e', n: string): string {
  return k === 'r' ? n : k === 'b' ? `bp-${n}` : `ecg-${n}`;
}

export function parseObservationId(id: string): { branch: 'r' | 'b' | 'e'; n: string } | null {
  // No leading zeros: `09` or `bp-05` is not the id of reading 9 or 5 (one resource, one id).
  const m = /^(?:(bp|ecg)-)?(0|[1-9]\d{0,17})$/.exec(id);
  if (!m) return null;
  return { branch: m[1] === 'bp' ? 'b' : m[1] === 'ecg' ? 'e' : 'r', n: m[2] };
}

const category = (k: ObservationKind) =>
  k.category
    ? [{ coding: [{ system: CATEGORY_SYSTEM, code: k.category, display: CATEGORY_DISPLAY[k.category] }], text: CATEGORY_DISPLAY[k.category] }]
    : undefined;

/** The start every Observation shares (BP panels and ECG; readings build theirs field by field below). */
function observationBase(r: ObservationRow, k: ObservationKind | undefined) {
  return {
    resourceType: 'Observation',
    id: observationId(r.k, r.n),
    meta: meta(r.lastUpdated, k?.profile),
    status: 'final',
    ...(k ? { category: category(k) } : {}),
  };
}

const quantity = (value: number, unit: string) => ({ value, unit, system: UCUM, code: unit });

export interface ObservationExtras {
  ecg?: { fs: number; lead: string; unit: string; samples: number[] };
  /** FHIR ids of the Observations a derived value was computed from. */
  derivedFrom?: string[];
}

export function observationResource(r: ObservationRow, x: ObservationExtras = {}): Resource {
  if (r.k === 'b') {
    return {
      ...observationBase(r, BP_KIND),
      code: { coding: BP_KIND.codings, text: BP_KIND.text },
      subject: ref('Patient', r.patientId),
      effectiveDateTime: new Date(r.ts).toISOString(),
      ...(r.deviceId ? { device: ref('Device', r.deviceId) } : {}),
      component: [
        { code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }] }, valueQuantity: quantity(r.value!, 'mm[Hg]') },
        { code: { coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' }] }, valueQuantity: quantity(r.value2!, 'mm[Hg]') },
      ],
    };
  }
  if (r.k === 'e') {
    const c = x.ecg;
    return {
      ...observationBase(r, ECG_KIND),
      code: {
        coding: [{ ...ECG_KIND.codings[0], ...(c ? { display: `${ECG_KIND.codings[0].display} (lead ${c.lead})` } : {}) }],
        text: c ? `ECG lead ${c.lead}` : 'ECG',
      },
      subject: ref('Patient', r.patientId),
      ...(r.deviceId ? { device: ref('Device', r.deviceId) } : {}),
      effectivePeriod: { start: new Date(r.ts).toISOString(), end: new Date(r.end).toISOString() },
      ...(c
        ? {
            // FHIR R4 SampledData: data are space-separated; samples × factor = mV.
            valueSampledData: { origin: quantity(0, 'mV'), period: 1000 / c.fs, factor: 1 / ECG_UNIT_PER_MV[c.unit], dimensions: 1, data: c.samples.join(' ') },
          }
        : {}),
    };
  }
  // A page is mostly these (bench:fhir): built field by field in the order served, without spreading
  // intermediate objects (a third of the CPU of mapping a page).
  const kind = kindOfReading(r.system ?? LOINC, r.code!, r.method !== null);
  const out: Resource = {
    resourceType: 'Observation',
    id: r.n,
    meta: kind?.profile ? { versionId: '1', lastUpdated: r.lastUpdated, profile: [kind.profile] } : { versionId: '1', lastUpdated: r.lastUpdated },
    status: 'final',
  };
  if (kind?.category) out.category = category(kind);
  out.code = { coding: kind?.codings ?? [{ system: r.system ?? LOINC, code: r.code! }], text: kind?.text ?? r.code };
  out.subject = ref('Patient', r.patientId);
  out.effectiveDateTime = new Date(r.ts).toISOString();
  out.valueQuantity = quantity(r.value!, r.unit!);
  if (r.deviceId) out.device = ref('Device', r.deviceId);
  // Derived results name their algorithm and, where known, the data they came from.
  if (r.method) out.method = { text: `${r.method.name} ${r.method.version}` };
  if (x.derivedFrom?.length) out.derivedFrom = x.derivedFrom.map((id) => ({ reference: `Observation/${id}` }));
  return out;
}
