import { BY_CODE, BY_KEY } from '../domain/codes.ts';
import type { CompiledParser, ReadingField } from './parser-spec.ts';

/** One reading in Vigil's full telemetry form (interfaces.md §3); the unit may be an accepted alias. */
export interface BridgeReading {
  code: string;
  value: number;
  unit: string;
}

export type ParsedLine = { kind: 'readings'; readings: BridgeReading[] } | { kind: 'error'; message: string } | { kind: 'unknown' } | { kind: 'empty' };

/** Protocol core, no I/O: one line from the device → readings, a device error, or nothing Vigil knows. */
export function parseLine(parser: CompiledParser, raw: string): ParsedLine {
  const line = raw.replace(/[\r\n\0]+/g, '').trim();
  if (line === '') return { kind: 'empty' };
  for (const p of parser.patterns) {
    const m = p.re.exec(line);
    if (!m) continue;
    const readings = p.readings.map((f) => toReading(f, m)).filter((r): r is BridgeReading => r !== null);
    if (readings.length > 0) return { kind: 'readings', readings };
  }
  const err = parser.error?.exec(line);
  if (err) return { kind: 'error', message: (err[1] ?? '').trim() || line };
  return { kind: 'unknown' };
}

function group(m: RegExpExecArray, ref: number | string | undefined): string | undefined {
  if (ref === undefined) return undefined;
  return typeof ref === 'number' ? m[ref] : m.groups?.[ref];
}

/** An optional group that did not match (e.g. no HR after BP) yields no reading rather than a bad one. */
function toReading(f: ReadingField, m: RegExpExecArray): BridgeReading | null {
  const text = group(m, f.value);
  if (text === undefined || text === '') return null;
  const value = Number(text.replace(',', '.')) * f.scale + f.offset;
  if (!Number.isFinite(value)) return null;
  const info = f.key ? BY_KEY.get(f.key)! : BY_CODE.get(f.code!)!;
  const unit = group(m, f.unitGroup) || f.unit || info.unit;
  return { code: info.code, value: Math.round(value * 1000) / 1000, unit };
}
