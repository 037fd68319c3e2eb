import { referenceId } from '../ids.ts';
import type { ParsedParam } from './params.ts';

/**
 * Reference search values (§3.1.1.4.3): `Patient/pat-1`, `pat-1`, an absolute URL, with an optional type
 * modifier (`subject:Patient=pat-1`). A value naming another type matches nothing here.
 */
export function referenceIds(p: ParsedParam, type: string): string[] {
  if (p.modifier && p.modifier !== type) return [];
  return p.values.map((v) => referenceId(v, type)).filter((v): v is string => v !== undefined);
}

/** The caller's visible patients (null: all) narrowed by every patient-reference occurrence (AND of ORs). */
export function narrowPatients(visible: string[] | null, occurrences: string[][]): string[] | null {
  let ids = visible;
  for (const wanted of occurrences) ids = ids === null ? [...new Set(wanted)] : ids.filter((id) => wanted.includes(id));
  return ids;
}
