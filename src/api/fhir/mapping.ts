import type { StoredEcgChunk, StoredReading } from '../../domain/types.ts';
import type { Patient, Practitioner } from '../../store/patients.repository.ts';
import type { Device } from '../../store/devices.repository.ts';
import { BY_CODE, DERIVED_CODES, ECG_CODE, ECG_UNIT_PER_MV } from '../../domain/codes.ts';

/**
 * Pure mapping from Vigil's records to FHIR R4 resources (no HTTP here). Readings follow the FHIR
 * vital-signs profile where one applies: category vital-signs, LOINC code, UCUM valueQuantity.
 */

const UCUM = 'http://unitsofmeasure.org';
const VITAL_SIGNS_PROFILE = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';
const CATEGORY = (code: string, display: string) => [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code, display }] }];
const derivedByCode = new Map<string, { system: string; code: string; display: string; unit: string }>(Object.values(DERIVED_CODES).map((d) => [d.code, d]));

export function patientResource(p: Patient) {
  return {
    resourceType: 'Patient',
    id: p.id,
    meta: { lastUpdated: new Date(p.createdAt).toISOString() },
    ...(p.mrn ? { identifier: [{ system: 'urn:vigil:mrn', value: p.mrn }] } : {}),
    active: true,
    name: [{ text: p.name, ...splitName(p.name) }],
    ...(p.sex ? { gender: p.sex } : {}),
    ...(p.birthDate ? { birthDate: p.birthDate } : {}),
  };
}

function splitName(name: string) {
  const parts = name.trim().split(/\s+/);
  return parts.length > 1 ? { family: parts[parts.length - 1], given: parts.slice(0, -1) } : { family: parts[0] };
}

export function practitionerResource(p: Practitioner) {
  return { resourceType: 'Practitioner', id: p.id, active: true, name: [{ text: p.name, ...splitName(p.name) }] };
}

export function deviceResource(d: Device) {
  return {
    resourceType: 'Device',
    id: d.id,
    identifier: [{ system: 'urn:vigil:device', value: d.id }],
    status: 'active',
    type: { text: d.type },
    ...(d.name ? { deviceName: [{ name: d.name, type: 'user-friendly-name' }] } : {}),
    ...(d.patientId ? { patient: { reference: `Patient/${d.patientId}` } } : {}),
    ...(d.battery !== null ? { property: [{ type: { text: 'battery' }, valueQuantity: [{ value: d.battery, unit: '%', system: UCUM, code: '%' }] }] } : {}),
  };
}

export function observationResource(r: StoredReading) {
  const info = BY_CODE.get(r.code);
  const derived = r.method ? derivedByCode.get(r.code) : undefined;
  const vital = !derived && info?.vitalSign;
  const system = r.system ?? 'http://loinc.org';
  return {
    resourceType: 'Observation',
    id: r.id,
    meta: vital ? { profile: [VITAL_SIGNS_PROFILE] } : undefined,
    status: 'final',
    category: vital ? CATEGORY('vital-signs', 'Vital Signs') : info ? CATEGORY('laboratory', 'Laboratory') : CATEGORY('survey', 'Survey'),
    code: { coding: [{ system, code: r.code, display: derived?.display ?? info?.display }], text: derived?.display ?? info?.display ?? r.code },
    subject: { reference: `Patient/${r.patientId}` },
    effectiveDateTime: new Date(r.ts).toISOString(),
    valueQuantity: { value: r.value, unit: r.unit, system: UCUM, code: r.unit },
    ...(r.deviceId ? { device: { reference: `Device/${r.deviceId}` } } : {}),
    ...(r.method ? { method: { text: `${r.method.name} ${r.method.version}` } } : {}),
  };
}

/** An ECG chunk as one Observation with valueSampledData (FHIR R4 SampledData: data are space-separated). */
export function ecgObservationResource(c: StoredEcgChunk) {
  return {
    resourceType: 'Observation',
    id: `ecg-${c.id}`,
    status: 'final',
    category: CATEGORY('procedure', 'Procedure'),
    code: { coding: [{ ...ECG_CODE, display: `${ECG_CODE.display} (lead ${c.lead})` }], text: `ECG lead ${c.lead}` },
    subject: { reference: `Patient/${c.patientId}` },
    device: { reference: `Device/${c.deviceId}` },
    effectivePeriod: { start: new Date(c.ts).toISOString(), end: new Date(c.ts + (c.samples.length / c.fs) * 1000).toISOString() },
    valueSampledData: {
      origin: { value: 0, unit: 'mV', system: UCUM, code: 'mV' },
      period: 1000 / c.fs, // ms between samples
      factor: 1 / ECG_UNIT_PER_MV[c.unit], // samples × factor = mV
      dimensions: 1,
      data: c.samples.join(' '),
    },
  };
}
