import { AppError, badRequest } from '../../../platform/errors.ts';
import { R4_ELEMENTS } from './elements.generated.ts';
import { localReference } from '../ids.ts';

/**
 * FHIR R4 search request parsing (§3.1.1), shared by every resource type: the declared parameters, their
 * modifiers, comma OR lists, and the result parameters. Parameters a type does not declare are refused
 * under `Prefer: handling=strict` and otherwise ignored and left out of the self link (§3.1.1.3.3).
 * A modifier or value that cannot be honoured is always refused: answering it unfiltered would be a lie.
 */

export type SearchParamType = 'token' | 'reference' | 'date' | 'string' | 'number' | 'uri' | 'special';

export interface SearchParamDef {
  name: string;
  type: SearchParamType;
  documentation: string;
  /** Modifiers honoured besides none (e.g. `text` on a token, `Patient` on a reference, `exact` on a string). */
  modifiers?: string[];
}

/** What a resource type declares for search (also what its CapabilityStatement entry says). */
export interface SearchSpec {
  params: SearchParamDef[];
  /** `_sort` keys (without the `-`). */
  sorts?: string[];
  /** `_include` values, e.g. `Observation:patient`. */
  includes?: string[];
  /** `_revinclude` values, e.g. `Observation:patient`. */
  revincludes?: string[];
}

export interface ParsedParam {
  name: string;
  modifier?: string;
  /** The comma-separated alternatives (OR); repeats of the parameter are separate ParsedParams (AND). */
  values: string[];
}

export type Summary = 'true' | 'false' | 'data' | 'count';

export interface SearchRequest {
  params: ParsedParam[];
  count: number;
  cursor?: string;
  sort?: { key: string; desc: boolean };
  summary?: Summary;
  elements?: string[];
  total: 'none' | 'estimate' | 'accurate';
  includes: string[];
  revincludes: string[];
  /** The parameters actually applied, in canonical form, for the self and next links. */
  applied: URLSearchParams;
  strict: boolean;
  /** Lenient mode: what was ignored and why (reported in an OperationOutcome entry, left out of the links). */
  ignored: string[];
}

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;

/** Result parameters every type understands (§3.1.1.5), besides those in SearchSpec. */
const COMMON = new Set(['_count', '_sort', '_summary', '_elements', '_total', '_include', '_revinclude', '_cursor', '_format']);
/** Result parameters that take one value (repeated `_elements`, `_include` and `_revinclude` add up). */
const SINGLE_VALUED = new Set(['_count', '_sort', '_summary', '_total', '_cursor', '_format']);

/** A top-level element of the type (R4 base definitions): `status`, or `valueQuantity` for the choice `value[x]`. */
function isElementOf(type: string, name: string): boolean {
  const known = R4_ELEMENTS[type]?.elements;
  if (!known) return true; // a type without generated definitions: not checked
  if (known.includes(name)) return true;
  return known.some((e) => e.endsWith('[x]') && (name === e || (name.startsWith(e.slice(0, -3)) && /^[A-Z]/.test(name.slice(e.length - 3)))));
}
const FORMATS = new Set(['json', 'application/json', 'application/fhir+json']);

/** Splits `a,b\,c` into ['a', 'b,c'] (FHIR §3.1.1.4.12: a backslash escapes , $ | \). */
export function splitOr(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && i + 1 < value.length) {
      cur += value[++i];
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const escapeOr = (v: string) => v.replace(/[\\,$|]/g, (c) => (c === '|' ? c : '\\' + c));

/** `Prefer: handling=strict|lenient` (§3.1.1.3.3); lenient is the default. */
/** A request for the number of matches only: `_summary=count`, or `_count=0` (R4 §3.1.1.5.7, §3.1.1.5.4). */
export const countOnly = (req: SearchRequest) => req.summary === 'count' || req.count === 0;

export function isStrict(prefer: string | string[] | undefined): boolean {
  const v = Array.isArray(prefer) ? prefer.join(',') : (prefer ?? '');
  return /(^|[,;\s])handling\s*=\s*"?strict"?/i.test(v);
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * `baseUrl` is this server's FHIR base: a reference value under it is local; a reference to any other server
 * matches nothing. Without it (the server's own internal searches), only relative references are local.
 */
export function parseSearch(
  type: string,
  query: Record<string, string | string[] | undefined>,
  spec: SearchSpec,
  strict: boolean,
  baseUrl?: string,
): SearchRequest {
  const declared = new Map(spec.params.map((p) => [p.name, p]));
  const req: SearchRequest = {
    params: [],
    count: DEFAULT_COUNT,
    total: 'accurate',
    includes: [],
    revincludes: [],
    applied: new URLSearchParams(),
    strict,
    ignored: [],
  };
  const ignore = (key: string, why: string) => {
    if (strict) throw badRequest(`${type} search: ${why} (sent with Prefer: handling=strict)`);
    req.ignored.push(why);
  };
  for (const [key, raw] of Object.entries(query)) {
    const values = list(raw);
    if (key === '_offset') throw badRequest('_offset paging is not supported: follow the Bundle\'s "next" link (keyset paging, stable over live data)');
    if (COMMON.has(key)) {
      // One value only: a repeat that disagrees is refused under strict handling; otherwise the first counts.
      if (SINGLE_VALUED.has(key) && new Set(values).size > 1)
        ignore(key, `"${key}" given ${values.length} times (${values.join(', ')}): only the first counts`);
      for (const v of SINGLE_VALUED.has(key) ? values.slice(0, 1) : values) applyResultParam(type, key, v, spec, req, ignore);
      continue;
    }
    if (/^_(rev)?include:/.test(key)) {
      ignore(key, `${key} is not supported (only the direct form: ${key.split(':')[0]}=Type:param, no :iterate)`);
      continue;
    }
    const [name, modifier, ...rest] = key.split(':');
    const def = declared.get(name);
    if (!def) {
      ignore(key, `parameter "${name}" is not supported (supported: ${[...declared.keys(), ...COMMON].filter((k) => k !== '_cursor').join(', ')})`);
      continue;
    }
    if (rest.length || (modifier !== undefined && !(def.modifiers ?? []).includes(modifier))) {
      // Unknown modifiers are always an error (§3.1.1.4): the client asked for a meaning we do not implement.
      throw badRequest(
        `${type} search: modifier ":${[modifier, ...rest].join(':')}" is not supported on "${name}"${def.modifiers?.length ? ` (supported: ${def.modifiers.map((m) => ':' + m).join(', ')})` : ''}`,
      );
    }
    for (const v of values) {
      const alternatives = splitOr(v).map((s) => s.trim());
      if (alternatives.some((a) => a === '')) throw badRequest(`${type} search: "${key}" has an empty value`);
      req.params.push({ name, modifier, values: def.type === 'reference' ? alternatives.map((a) => localReference(a, baseUrl)) : alternatives });
      req.applied.append(key, alternatives.map(escapeOr).join(','));
    }
  }
  return req;
}

function applyResultParam(type: string, key: string, v: string, spec: SearchSpec, req: SearchRequest, ignore: (key: string, why: string) => void) {
  switch (key) {
    case '_count': {
      const n = Number(v);
      if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw badRequest(`_count must be a non-negative integer (got "${v}")`);
      req.count = Math.min(n, MAX_COUNT);
      req.applied.set('_count', String(req.count));
      return;
    }
    case '_cursor':
      if (!/^[A-Za-z0-9_-]{1,400}$/.test(v)) throw badRequest('_cursor is not one this server issued: follow the Bundle\'s "next" link');
      req.cursor = v;
      return;
    case '_format':
      if (!FORMATS.has(v)) throw new AppError('BAD_REQUEST', `_format "${v}" is not supported: this server speaks application/fhir+json only`);
      return;
    case '_sort': {
      const keys = v.split(',').map((s) => s.trim());
      const sorts = spec.sorts ?? [];
      if (keys.length !== 1 || !sorts.includes(keys[0].replace(/^-/, ''))) {
        ignore('_sort', `_sort=${v} is not supported${sorts.length ? ` (supported: one of ${sorts.flatMap((s) => [s, '-' + s]).join(', ')})` : ''}`);
        return;
      }
      req.sort = { key: keys[0].replace(/^-/, ''), desc: keys[0].startsWith('-') };
      req.applied.set('_sort', keys[0]);
      return;
    }
    case '_summary':
      if (!['true', 'false', 'data', 'count'].includes(v)) {
        // _summary=text cannot be honoured (no narratives); an unknown value is an error either way.
        throw badRequest(`_summary=${v} is not supported (supported: true, false, data, count)`);
      }
      req.summary = v as Summary;
      req.applied.set('_summary', v);
      return;
    case '_elements': {
      const els = v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (!els.length || els.some((e) => !/^[a-zA-Z][a-zA-Z0-9]*(\[x\])?$/.test(e)))
        throw badRequest(`_elements must be a comma-separated list of top-level element names (got "${v}")`);
      const unknown = els.filter((e) => !isElementOf(type, e));
      if (unknown.length) ignore('_elements', `_elements: ${unknown.join(', ')} ${unknown.length > 1 ? 'are not elements' : 'is not an element'} of ${type}`);
      // Only the names applied go into the self and next links (§3.1.1.3.3): `_elements=` (empty) is refused
      // when followed. No known name at all: _elements is ignored whole (the full resources are returned).
      const known = els.filter((e) => !unknown.includes(e));
      if (!known.length) return;
      req.elements = [...(req.elements ?? []), ...known];
      req.applied.set('_elements', req.elements.join(','));
      return;
    }
    case '_total':
      if (!['none', 'estimate', 'accurate'].includes(v)) throw badRequest(`_total must be none, estimate or accurate (got "${v}")`);
      req.total = v as SearchRequest['total'];
      req.applied.set('_total', v);
      return;
    case '_include':
    case '_revinclude': {
      const allowed = (key === '_include' ? spec.includes : spec.revincludes) ?? [];
      const canonical = v.replace(/:iterate$/, '');
      if (!allowed.includes(canonical) || canonical !== v) {
        ignore(key, `${key}=${v} is not supported${allowed.length ? ` (supported: ${allowed.join(', ')})` : ''}`);
        return;
      }
      (key === '_include' ? req.includes : req.revincludes).push(v);
      req.applied.append(key, v);
      return;
    }
  }
}

/** All values (OR lists) of every occurrence (AND) of one parameter. */
export const paramsNamed = (req: SearchRequest, name: string) => req.params.filter((p) => p.name === name);

/** `system|code`, `|code`, `code`, `system|` (§3.1.1.4.2). */
export interface Token {
  system?: string | null;
  code?: string;
}
export function parseToken(v: string): Token {
  const i = v.indexOf('|');
  if (i < 0) return { code: v };
  const system = v.slice(0, i);
  const code = v.slice(i + 1);
  return { system: system === '' ? null : system, code: code === '' ? undefined : code };
}
