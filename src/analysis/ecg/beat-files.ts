/**
 * Text formats of the shared afdb files: `.beats` (one beat sample index per line after a `# fs=…`
 * line) and `.rhythm` (`start-sample label` lines after `# fs=… length=…`). Pure parsers.
 */
import { WfdbError } from './wfdb.ts';

function headerValue(line: string, key: string): number | undefined {
  const m = new RegExp(`(?:^|\\s)${key}=([0-9.]+)`).exec(line);
  return m ? Number(m[1]) : undefined;
}

export interface BeatsFile {
  fs: number;
  beats: number[];
}

export function parseBeatsFile(text: string, name = 'beats file'): BeatsFile {
  const lines = text.split(/\r?\n/);
  const fs = lines[0]?.startsWith('#') ? headerValue(lines[0], 'fs') : undefined;
  if (!fs || !(fs > 0)) throw new WfdbError(`${name}: first line must be "# fs=<Hz> …"`);
  const beats: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i].trim();
    if (l === '' || l.startsWith('#')) continue;
    const v = Number(l);
    if (!Number.isInteger(v) || v < 0) throw new WfdbError(`${name}: line ${i + 1} is not a sample index: "${l.slice(0, 40)}"`);
    beats.push(v);
  }
  return { fs, beats };
}

export interface RhythmSegment {
  start: number;
  end: number;
  label: string;
}

export interface RhythmFile {
  fs: number;
  length: number;
  segments: RhythmSegment[];
}

export function parseRhythmFile(text: string, name = 'rhythm file'): RhythmFile {
  const lines = text.split(/\r?\n/);
  const fs = headerValue(lines[0] ?? '', 'fs');
  const length = headerValue(lines[0] ?? '', 'length');
  if (!fs || length === undefined) throw new WfdbError(`${name}: first line must be "# fs=<Hz> length=<samples> …"`);
  const starts: Array<[number, string]> = [];
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i].trim();
    if (l === '' || l.startsWith('#')) continue;
    const [s, label] = l.split(/\s+/);
    starts.push([Number(s), label]);
  }
  const segments = starts.map(([start, label], i) => ({ start, end: starts[i + 1]?.[0] ?? length, label }));
  return { fs, length, segments };
}
