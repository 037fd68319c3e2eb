/** Older helpers kept for modules that still parse search by hand (messaging, appointments); new code uses search/params.ts through a ResourceProvider. */
import { AppError } from '../../platform/errors.ts';
import { fromFhirId } from './ids.ts';

/** FHIR R4 search parameter parsing (pure): date prefixes, tokens, paging. */

export interface DateBounds {
  from?: number;
  to?: number;
  fromExclusive?: boolean;
  toExclusive?: boolean;
}

/** The implicit range of a partial date (FHIR R4 §3.1.1.4.4: a date means its whole day/month/year). */
function implicitRange(value: string): [number, number] {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(value);
  if (m) {
    const [y, mo, d] = [Number(m[1]), m[2] ? Number(m[2]) - 1 : undefined, m[3] ? Number(m[3]) : undefined];
    const start = Date.UTC(y, mo ?? 0, d ?? 1);
    const end = d !== undefined ? Date.UTC(y, mo!, d + 1) : mo !== undefined ? Date.UTC(y, mo + 1, 1) : Date.UTC(y + 1, 0, 1);
    return [start, end];
  }
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw new AppError('BAD_REQUEST', `date "${value}" is not a FHIR date or dateTime`);
  return [t, t + 1];
}

/** Combines one or more `date=` values (e.g. `ge2026-11-01&date=le2026-11-24`). */
export function parseDateParams(values: string[]): DateBounds {
  const b: DateBounds = {};
  for (const raw of values) {
    const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(.+)$/.exec(raw);
    const prefix = m?.[1] ?? 'eq';
    const [start, end] = implicitRange(m?.[2] ?? raw);
    switch (prefix) {
      case 'eq':
        b.from = start;
        b.to = end;
        b.toExclusive = true;
        break;
      case 'ge':
        b.from = start;
        break;
      case 'gt':
      case 'sa':
        b.from = end;
        break;
      case 'le':
        b.to = end;
        b.toExclusive = true;
        break;
      case 'lt':
      case 'eb':
        b.to = start;
        b.toExclusive = true;
        break;
      default:
        throw new AppError('BAD_REQUEST', `date prefix "${prefix}" is not supported (use eq, ge, gt, le, lt)`);
    }
  }
  return b;
}

/** `code=http://loinc.org|8867-4,8480-6` → codes (system checked when given). */
export function parseTokens(value: string | undefined): string[] | undefined {
  if (!value) return undefined;
  return value.split(',').map((t) => (t.includes('|') ? t.slice(t.indexOf('|') + 1) : t)).filter(Boolean);
}

/** `patient=Patient/pat_1` or `patient=pat_1` (also `subject=`). */
export function parseReference(value: string | undefined, type: string): string | undefined {
  if (!value) return undefined;
  // FHIR ids (pat-x7k2…) and Vigil's own (pat_x7k2…) both name the same record (see ids.ts).
  return fromFhirId(value.startsWith(`${type}/`) ? value.slice(type.length + 1) : value);
}

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;

export function parsePaging(q: Record<string, string | undefined>): { count: number; offset: number } {
  const count = q._count === undefined ? DEFAULT_COUNT : Number(q._count);
  const offset = q._offset === undefined ? 0 : Number(q._offset);
  if (!Number.isInteger(count) || count < 0) throw new AppError('BAD_REQUEST', `_count must be a non-negative integer (got "${q._count}")`);
  if (!Number.isInteger(offset) || offset < 0) throw new AppError('BAD_REQUEST', `_offset must be a non-negative integer (got "${q._offset}")`);
  return { count: Math.min(count, MAX_COUNT), offset };
}
