import type { Resource } from './mapping.ts';
import { fromFhirId, referenceId } from './ids.ts';

/** The patients a resource is about: a Patient itself, else its subject, patient, for or patient participants. */
export function patientsOf(r: Resource): string[] {
  if (r.resourceType === 'Patient') return typeof r.id === 'string' ? [fromFhirId(r.id)] : [];
  const refs: unknown[] = [];
  const x = r as Record<string, unknown>;
  for (const key of ['subject', 'patient', 'for', 'beneficiary']) refs.push((x[key] as { reference?: unknown } | undefined)?.reference);
  for (const part of (Array.isArray(x.participant) ? x.participant : []) as Array<{ actor?: { reference?: unknown } }>) refs.push(part.actor?.reference);
  for (const m of (Array.isArray(x.member) ? x.member : []) as Array<{ entity?: { reference?: unknown } }>) refs.push(m.entity?.reference);
  const out = new Set<string>();
  for (const ref of refs) if (typeof ref === 'string' && /(^|\/)Patient\/[^/]+$/.test(ref)) out.add(referenceId(ref, 'Patient')!);
  return [...out];
}
