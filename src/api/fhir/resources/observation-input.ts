/* eslint-disable @typescript-eslint/no-explicit-any -- walks client-supplied FHIR JSON, checking every field it reads */
import { KINDS, LOINC } from './observation-kinds.ts';
import { referenceId } from '../ids.ts';
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
