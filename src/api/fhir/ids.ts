/**
 * FHIR logical ids (R4 §2.1.9 "id": [A-Za-z0-9\-\.]{1,64}) for Vigil's internal ids, as a bijection, so the
 * REST API and MQTT keep their ids (a device id is its MQTT username) while FHIR sees conformant ones:
 * - Vigil's generated ids `pat_x7k2…` become `pat-x7k2…` (and back);
 * - any other id that already conforms is used as is, unless it could be mistaken for one of the two
 *   encoded forms, in which case (like every non-conformant id) it is written `h.<hex of its UTF-8>`.
 * A FHIR id given in the internal form (`pat_x7k2…`, e.g. from a REST payload) is accepted on input too.
 * Any other input that is not the canonical FHIR form of its internal id (`h.<hex>` of an id that has a plain
 * form, upper-case hex) names nothing: one resource, one id (R4 §2.1.9, resource.html#id).
 */

const GENERATED = /^([a-z]{2,8})_([a-z0-9]{1,40})$/;
const GENERATED_FHIR = /^([a-z]{2,8})-([a-z0-9]{1,40})$/;
const HEX_FHIR = /^h\.((?:[0-9a-f]{2}){1,31})$/;
const CONFORMANT = /^[A-Za-z0-9\-.]{1,64}$/;

export function toFhirId(internal: string): string {
  const g = GENERATED.exec(internal);
  if (g) return `${g[1]}-${g[2]}`;
  if (CONFORMANT.test(internal) && !GENERATED_FHIR.test(internal) && !internal.startsWith('h.')) return internal;
  const hex = Buffer.from(internal, 'utf8').toString('hex');
  // 31 bytes is the most an id can carry in 64 characters; longer internal ids are not created by Vigil.
  if (hex.length > 62) throw new Error(`id "${internal.slice(0, 20)}…" is too long to express as a FHIR id`);
  return `h.${hex}`;
}

/**
 * What a non-canonical id maps to: longer than any id Vigil can express in FHIR (64 characters), so it
 * matches no row and stays safe to bind as a text parameter.
 */
const NOTHING = (fhirId: string) => `${'~'.repeat(65)}${fhirId}`;

function decode(fhirId: string): string {
  const g = GENERATED_FHIR.exec(fhirId);
  if (g) return `${g[1]}_${g[2]}`;
  const h = HEX_FHIR.exec(fhirId);
  if (h) return Buffer.from(h[1], 'hex').toString('utf8');
  return fhirId;
}

const canonical = (internal: string, fhirId: string) => {
  try {
    return toFhirId(internal) === fhirId;
  } catch {
    return false;
  }
};

export function fromFhirId(fhirId: string): string {
  if (GENERATED.test(fhirId)) return fhirId; // the internal form, accepted on input (docs/fhir.md "Ids")
  const internal = decode(fhirId);
  return canonical(internal, fhirId) ? internal : NOTHING(fhirId);
}

export const isFhirId = (id: string) => CONFORMANT.test(id);

/**
 * A reference search value as this server's own (R4 search §3.1.1.4.3, references.html#literal): an absolute
 * URL under `baseUrl` becomes `Type/id`; any other absolute URL (another server) names nothing here,
 * so it is replaced by a value no id or reference parser resolves. Relative and bare values are kept.
 */
export function localReference(value: string, baseUrl: string | undefined): string {
  // Only URLs with an authority (`scheme://`): `urn:vigil:user|usr_…` is an identifier some parameters take (AuditEvent
  // agent), and a urn names no id here anyway (found by review: agent=urn:… matched nothing).
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value)) return value;
  return pathUnderBase(value, baseUrl) ?? NOTHING('');
}

/** What follows this server's FHIR base in an absolute URL (`Patient/pat-1`); undefined for another server's URL. */
export function pathUnderBase(url: string, baseUrl: string | undefined): string | undefined {
  const base = baseUrl?.replace(/\/+$/, '');
  return base && url.startsWith(`${base}/`) ? url.slice(base.length + 1) : undefined;
}

/** `Patient/pat-1`, `pat-1`, or an absolute URL ending in `Patient/pat-1` → the internal id of that type (undefined when another type). */
export function referenceId(value: string, type: string): string | undefined {
  const m = /^(?:.*\/)?([A-Z][A-Za-z]+)\/([^/]+)$/.exec(value);
  if (m) return m[1] === type ? fromFhirId(m[2]) : undefined;
  return fromFhirId(value);
}
