import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { BY_CODE, BY_KEY } from '../domain/codes.ts';

/**
 * How a bedside device talks, as data: which line to write for each Vigil command, and which regular
 * expressions turn its answers into readings. The default covers Vigil's reference line protocol; other
 * devices get a JSON file (`--parser FILE`, format in README.md).
 */
const FIELD = z
  .object({
    /** Vigil shorthand key (hr, spo2, rr, sbp, dbp, temp, glucose, weight, steps) or a LOINC code. */
    key: z.string().optional(),
    code: z.string().optional(),
    /** Capture group holding the number (index or name). */
    value: z.union([z.number().int().min(1), z.string()]),
    /** Fixed unit, or the capture group holding it; Vigil converts accepted aliases (C/F, mmol/L, lb…). */
    unit: z.string().optional(),
    unitGroup: z.union([z.number().int().min(1), z.string()]).optional(),
    /** value × scale + offset, for devices that send e.g. tenths of a degree. */
    scale: z.number().default(1),
    offset: z.number().default(0),
  })
  .refine((f) => (f.key ? BY_KEY.has(f.key) : f.code ? BY_CODE.has(f.code) : false), {
    message: `needs "key" (one of ${[...BY_KEY.keys()].join(', ')}) or a known LOINC "code"`,
  });

const SPEC = z.object({
  name: z.string().default('custom'),
  /** Vigil command name → line written to the port; a command missing here is answered "not supported". */
  commands: z.record(z.string(), z.string()).default({ MEASURE: 'MEASURE' }),
  /** Appended to every line written to the device. */
  lineEnding: z.string().default('\r\n'),
  /** Framing other than 8N1, e.g. {"dataBits": 7, "parity": "even"} for older instruments. */
  serial: z
    .object({
      dataBits: z.union([z.literal(5), z.literal(6), z.literal(7), z.literal(8)]).default(8),
      parity: z.enum(['none', 'even', 'odd', 'mark', 'space']).default('none'),
      stopBits: z.union([z.literal(1), z.literal(1.5), z.literal(2)]).default(1),
    })
    .default({ dataBits: 8, parity: 'none', stopBits: 1 }),
  /** Flags for every regex, e.g. "i" for case-insensitive. */
  flags: z
    .string()
    .regex(/^[imsu]*$/)
    .default(''),
  patterns: z.array(z.object({ match: z.string(), readings: z.array(FIELD).min(1) })).min(1),
  /** A line reporting a failure; group 1 is the reason (answers a pending command as failed). */
  error: z.string().optional(),
});

export type ParserSpec = z.input<typeof SPEC>;
export type ReadingField = z.output<typeof FIELD>;

export interface CompiledParser {
  name: string;
  commands: Record<string, string>;
  lineEnding: string;
  serial: { dataBits: 5 | 6 | 7 | 8; parity: 'none' | 'even' | 'odd' | 'mark' | 'space'; stopBits: 1 | 1.5 | 2 };
  patterns: Array<{ re: RegExp; readings: ReadingField[] }>;
  error: RegExp | null;
}

const NUMBER = '(-?\\d+(?:[.,]\\d+)?)';

/** Vigil's reference line protocol: `TEMP 36.8 C`, `BP 128/82 HR 71`, `SPO2 97 HR 72`, `GLU 110 mg/dL`, `WT 81.2 kg`. */
export const DEFAULT_PARSER: ParserSpec = {
  name: 'vigil-line-v1',
  commands: { MEASURE: 'MEASURE', IDENTIFY: 'IDENTIFY' },
  flags: 'i',
  patterns: [
    { match: `^TEMP\\s+${NUMBER}\\s*(C|F|Cel|°C)?$`, readings: [{ key: 'temp', value: 1, unitGroup: 2, unit: 'Cel' }] },
    {
      match: `^BP\\s+(\\d+)\\s*/\\s*(\\d+)(?:\\s*(?:mmHg|mm\\[Hg\\]))?(?:\\s+(?:HR|PR|PULSE)\\s+(\\d+))?$`,
      readings: [
        { key: 'sbp', value: 1 },
        { key: 'dbp', value: 2 },
        { key: 'hr', value: 3 },
      ],
    },
    {
      match: `^SPO2\\s+(\\d+)\\s*%?(?:\\s+(?:HR|PR|PULSE)\\s+(\\d+))?$`,
      readings: [
        { key: 'spo2', value: 1 },
        { key: 'hr', value: 2 },
      ],
    },
    { match: `^(?:GLU|GLUCOSE)\\s+${NUMBER}\\s*(mg/dL|mmol/L)?$`, readings: [{ key: 'glucose', value: 1, unitGroup: 2, unit: 'mg/dL' }] },
    { match: `^(?:WT|WEIGHT)\\s+${NUMBER}\\s*(kg|lb)?$`, readings: [{ key: 'weight', value: 1, unitGroup: 2, unit: 'kg' }] },
    { match: `^HR\\s+(\\d+)$`, readings: [{ key: 'hr', value: 1 }] },
  ],
  error: '^(?:ERR|ERROR)\\b[\\s:]*(.*)$',
};

export class ParserSpecError extends Error {}

/** Validates and compiles a spec; errors name the pattern and field at fault. */
export function compileParser(input: unknown): CompiledParser {
  const parsed = SPEC.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ParserSpecError(`parser spec: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const spec = parsed.data;
  const regex = (source: string, where: string) => {
    try {
      return new RegExp(source, spec.flags);
    } catch (err) {
      throw new ParserSpecError(`parser spec: ${where}: ${(err as Error).message}`);
    }
  };
  return {
    name: spec.name,
    commands: spec.commands,
    lineEnding: spec.lineEnding,
    serial: spec.serial,
    patterns: spec.patterns.map((p, i) => ({ re: regex(p.match, `patterns.${i}.match`), readings: p.readings })),
    error: spec.error ? regex(spec.error, 'error') : null,
  };
}

export async function loadParser(file: string | undefined): Promise<CompiledParser> {
  if (!file) return compileParser(DEFAULT_PARSER);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ParserSpecError(`parser spec ${file}: ${(err as Error).message}`);
  }
  return compileParser(json);
}
