/* eslint-disable @typescript-eslint/no-explicit-any -- walks client-supplied FHIR JSON, checking every field it reads */
import { KINDS, LOINC } from './observation-kinds.ts';
import { pathUnderBase, referenceId } from '../ids.ts';
import { BY_CODE, toCanonical } from '../../../domain/codes.ts';
import { realDay } from '../search/date.ts';

const INSTANT = /^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-](0\d|1[0-3]):[0-5]\d|[+-]14:00)$/;

/** A reading parsed from an Observation, before its patient (id or MRN) and device are resolved. */
export interface CandidateReading {
  line: number;
  patient: string;
  code: string;
  value: number;
  unit: string;
  ts: number;
  device?: string;
}

/**
 * FHIR Observations (NDJSON, one resource a line, as `$export` writes them; or a Bundle's entries) back to
 * readings: device-measured kinds only (vital signs, glucose, steps; a BP panel becomes its two readings).
 * Derived results and ECG are Vigil's own computations or waveforms and are refused with a reason.
 */
export function observationToReadings(o: any, line: number): CandidateReading[] | string {
  if (o?.resourceType !== 'Observation') return `line is a ${o?.resourceType ?? 'non-FHIR value'}, not an Observation`;
  if (o.status && !['final', 'amended', 'corrected'].includes(o.status)) return `status ${o.status} is not a result`;
  const patient = typeof o.subject?.reference === 'string' ? referenceId(o.subject.reference, 'Patient') : undefined;
  if (!patient) return 'subject must reference a Patient';
  const when = o.effectiveDateTime ?? o.effectiveInstant ?? o.effectivePeriod?.start;
  // R4 dateTime: with a time, seconds and a zone are required (Date.parse would read a time without a zone in
  // the server's own zone, and roll 2026-02-30 over to March).
  const ts = typeof when === 'string' && INSTANT.test(when) && realDay(+when.slice(0, 4), +when.slice(5, 7), +when.slice(8, 10)) ? Date.parse(when) : NaN;
  if (!Number.isFinite(ts)) return 'effectiveDateTime must be a date-time with a time zone (e.g. 2026-11-24T10:00:00Z)';
  const device = typeof o.device?.reference === 'string' ? referenceId(o.device.reference, 'Device') : undefined;
  const codings: Array<{ system?: string; code?: string }> = o.code?.coding ?? [];
  const kind = KINDS.find((k) => k.codings.some((c) => codings.some((x) => x.system === c.system && x.code === c.code)));
  if (!kind) return `code ${codings.map((c) => `${c.system}|${c.code}`).join(', ') || '(none)'} is not a reading Vigil stores`;
  const one = (code: string, q: any): CandidateReading | string => {
    const info = BY_CODE.get(code)!;
    if (typeof q?.value !== 'number') return `${info.display}: valueQuantity.value must be a number`;
    const value = toCanonical(code, q.value, q.code ?? q.unit);
    if (value === undefined) return `${info.display}: unit ${q.code ?? q.unit} is not known (use ${info.unit})`;
    if (value < info.min || value > info.max) return `${info.display}: ${value} ${info.unit} is outside the possible range`;
    return { line, patient, code, value, unit: info.unit, ts, device };
  };
  if (kind.source.table === 'bp') {
    const part = (code: string) => o.component?.find((c: any) => c.code?.coding?.some((x: any) => x.system === LOINC && x.code === code));
    const out = [one('8480-6', part('8480-6')?.valueQuantity), one('8462-4', part('8462-4')?.valueQuantity)];
    const bad = out.find((r) => typeof r === 'string');
    return bad ? (bad as string) : (out as CandidateReading[]);
  }
  if (kind.source.table !== 'readings' || kind.source.derived) return `${kind.text} is computed by Vigil (or a waveform), not imported`;
  const r = one(kind.source.code, o.valueQuantity);
  return typeof r === 'string' ? r : [r];
}

export const UCUM = 'http://unitsofmeasure.org';
const BP_PARTS = ['8480-6', '8462-4'];
const EFFECTIVE = ['effectiveDateTime', 'effectivePeriod', 'effectiveInstant', 'effectiveTiming'];

/**
 * A reference a FHIR create may use for `type`: `Type/id`, or an absolute URL on this server (R4 §2.3.0
 * references.html: an absolute URL names the server it lives on; another server's Patient is not ours, even
 * when its id matches). Contained resources (`#id`) are not kept. Undefined when fine, else the problem.
 */
export function localReferenceProblem(element: string, ref: string, type: string, baseUrl: string): string | undefined {
  if (ref.startsWith('#'))
    return `${element} ${ref} points at a contained resource: contained resources are not supported, reference ${type}/{id} on this server`;
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(ref)) return undefined;
  const base = baseUrl.replace(/\/+$/, '');
  const rest = pathUnderBase(ref, base);
  if (rest === undefined)
    return `${element} ${ref} is not on this server: an absolute reference must start with its FHIR base ${base || '(unknown)'}/ (or send ${type}/{id})`;
  if (!new RegExp(`^${type}/[^/]+$`).test(rest)) return `${element} ${ref} must be ${base}/${type}/{id}`;
  return undefined;
}

/**
 * What a FHIR create must state plainly, checked before observationToReadings (which also reads NDJSON files
 * leniently): nothing is guessed, changed or dropped. Undefined when fine, else the problem, naming the element.
 */
export function observationCreateProblem(o: any, baseUrl: string): string | undefined {
  if (o.contained !== undefined) return 'contained resources are not supported: reference the Patient (and Device) stored on this server';
  // Every reading row is served as final (mapping, status search): another status could not be kept.
  if (o.status !== 'final')
    return `status ${o.status === undefined ? 'is missing' : `${JSON.stringify(o.status)} cannot be kept`}: Vigil stores every Observation as final (accepted: final)`;
  // R4 §2.24.0.1 choice types: one value[x], one effective[x].
  const effective = EFFECTIVE.filter((k) => o[k] !== undefined);
  if (effective.length > 1) return `${effective.join(' and ')} are both present: effective[x] is a choice, send one (effectiveDateTime)`;
  const values = Object.keys(o).filter((k) => k.startsWith('value') && o[k] !== undefined);
  if (values.length > 1) return `${values.join(' and ')} are both present: value[x] is a choice, send one (valueQuantity)`;
  for (const [element, type] of [
    ['subject', 'Patient'],
    ['device', 'Device'],
  ] as const) {
    const ref = o[element]?.reference;
    const problem = typeof ref === 'string' ? localReferenceProblem(`${element}.reference`, ref, type, baseUrl) : undefined;
    if (problem) return problem;
  }
  const codings: Array<{ system?: string; code?: string }> = Array.isArray(o.code?.coding) ? o.code.coding : [];
  const kind = KINDS.find((k) => k.codings.some((c) => codings.some((x) => x?.system === c.system && x?.code === c.code)));
  // observationToReadings names a code it does not store, and refuses derived results and ECG.
  if (!kind || kind.source.table === 'ecg' || (kind.source.table === 'readings' && kind.source.derived)) return undefined;
  // Every kind a create stores is a point measurement (readings have one time): a period would lose its end.
  const p = o.effectivePeriod;
  if (p !== undefined && !(typeof p?.start === 'string' && typeof p?.end === 'string' && Date.parse(p.start) === Date.parse(p.end)))
    return `effectivePeriod: ${kind.text} is a point measurement, stored at one time; send effectiveDateTime`;
  const quantity = (element: string, q: any, code: string): string | undefined => {
    if (typeof q?.value !== 'number') return undefined; // observationToReadings: "must be a number"
    const unit = BY_CODE.get(code)?.unit;
    // R4 vital-signs profiles: valueQuantity.system = UCUM and a code (qty-3: a code needs its system).
    if (q.system !== UCUM)
      return `${element}.system ${q.system === undefined ? 'is missing' : `${JSON.stringify(q.system)} is not UCUM`}: send system ${UCUM} and the unit in code (e.g. ${unit})`;
    if (typeof q.code !== 'string' || !q.code) return `${element}.code is missing: send the UCUM unit in code (e.g. ${unit})`;
    if (q.comparator !== undefined) return `${element}.comparator is not supported: a reading is an exact value`;
    return undefined;
  };
  const components: unknown = o.component;
  if (kind.source.table !== 'bp') {
    if (components !== undefined) return `component is not kept for ${kind.text}: only a blood pressure panel (85354-9) has components`;
    return quantity('valueQuantity', o.valueQuantity, kind.source.code);
  }
  if (values.length) return `${values[0]}: a blood pressure panel carries its values in component (8480-6, 8462-4)`;
  if (!Array.isArray(components)) return `component must list the systolic (8480-6) and diastolic (8462-4) values`;
  const seen = new Set<string>();
  for (const [i, c] of (components as any[]).entries()) {
    const cc: Array<{ system?: string; code?: string }> = Array.isArray(c?.code?.coding) ? c.code.coding : [];
    const code = BP_PARTS.find((b) => cc.some((x) => x?.system === LOINC && x?.code === b));
    if (!code)
      return `component[${i}] ${cc.map((x) => `${x?.system}|${x?.code}`).join(', ') || '(no code)'} is not kept: a blood pressure panel takes 8480-6 and 8462-4`;
    if (seen.has(code)) return `component[${i}]: ${code} appears more than once; send one systolic (8480-6) and one diastolic (8462-4)`;
    seen.add(code);
    const problem = quantity(`component[${i}].valueQuantity`, c.valueQuantity, code);
    if (problem) return problem;
  }
  return undefined;
}
