import { CliError, writeJson, type CliCommand, type CliIo } from '../command.ts';
import { CONSCIOUSNESS_LEVELS, NEWS2_ALGORITHM, NEWS2_RANGES, scoreNews2, type Consciousness, type News2Observations } from '../../analysis/news2/index.ts';

const HELP = `Usage: vigil score news2 < observations.json

Scores one set of observations with NEWS2 (Royal College of Physicians, 2017).
Reads JSON on stdin:
  {"respiratoryRate": 18, "spo2": 95, "spo2Scale": 1, "onOxygen": false, "systolicBP": 118,
   "pulse": 96, "consciousness": "A", "temperature": 37.8}
  spo2Scale is 1 or 2 (default 1; 2 only for a clinician-set 88–92 % target); consciousness is ACVPU.
Prints JSON (with or without --json):
  {"score": 0–20, "risk": "low"|"low-medium"|"medium"|"high", "components": {...}, "algorithm": {...}}
Rounding: integers half up; temperature to 0.1 °C half up. Bad input: one line naming the field, exit 1.`;

/** Physically possible ranges (the scorer's own): wider than any chart band, narrow enough to catch unit mix-ups. */
const NUMERIC_FIELDS = NEWS2_RANGES;

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
  return text;
}

/** Hand validation so that every message names the one field at fault. */
export function parseNews2Input(text: string): News2Observations {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CliError('stdin is not valid JSON (expected one NEWS2 observation object)');
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new CliError('stdin must be a JSON object');
  const o = raw as Record<string, unknown>;
  const num = (field: keyof typeof NUMERIC_FIELDS): number => {
    const [min, max, unit] = NUMERIC_FIELDS[field];
    const v = o[field];
    if (v === undefined || v === null) throw new CliError(`${field}: missing`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new CliError(`${field}: must be a number (${unit})`);
    if (v < min || v > max) throw new CliError(`${field}: ${v} is outside ${min}–${max} ${unit}`);
    return v;
  };
  const spo2Scale = o.spo2Scale ?? 1;
  if (spo2Scale !== 1 && spo2Scale !== 2) throw new CliError('spo2Scale: must be 1 or 2');
  if (typeof o.onOxygen !== 'boolean') throw new CliError('onOxygen: must be true or false');
  if (typeof o.consciousness !== 'string' || !CONSCIOUSNESS_LEVELS.includes(o.consciousness as Consciousness)) {
    throw new CliError('consciousness: must be one of "A", "C", "V", "P", "U"');
  }
  return {
    respiratoryRate: num('respiratoryRate'),
    spo2: num('spo2'),
    spo2Scale,
    onOxygen: o.onOxygen,
    systolicBP: num('systolicBP'),
    pulse: num('pulse'),
    consciousness: o.consciousness as Consciousness,
    temperature: num('temperature'),
  };
}

const command: CliCommand = {
  name: 'score news2',
  summary: 'NEWS2 score and risk band from observations (JSON on stdin)',
  help: HELP,
  async run(_args, io: CliIo) {
    const obs = parseNews2Input(await readAll(io.stdin));
    writeJson(io, { ...scoreNews2(obs), algorithm: NEWS2_ALGORITHM });
    return 0;
  },
};
export default command;
