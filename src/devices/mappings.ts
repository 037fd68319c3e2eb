import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { BY_CODE, toCanonical } from '../domain/codes.ts';

/**
 * Device → FHIR mapping as data (issue 10 §7): a device model's payload keys and units, declared in a JSON file
 * (`src/devices/mappings/<type>.json`), so a new model is a file, not code. A device provisioned with that
 * `type` sends its own keys (`{"SYS": 141, "DIA": 92}`); ingest turns each into the LOINC code and converts
 * the unit to the canonical UCUM one (domain/codes.ts), exactly as the built-in shorthand keys (`hr`, `spo2`)
 * are. Every file is checked at start: a code Vigil does not store or a unit it cannot convert stops the
 * server, naming the file, instead of readings silently stored in the wrong unit.
 */
export interface DeviceMapping {
  type: string;
  description?: string;
  keys: Record<string, { code: string; unit: string }>;
}

const MappingFile = z.strictObject({
  type: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'type: lower-case letters, digits, . _ - (the device type given at provisioning)'),
  description: z.string().max(500).optional(),
  keys: z
    .record(z.string().min(1).max(64), z.strictObject({ code: z.string(), unit: z.string().min(1).max(32) }))
    .refine((k) => Object.keys(k).length > 0, 'keys: at least one'),
});

export const BUILT_IN_MAPPINGS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'mappings');

/** Reads and checks every `*.json` in the folders; throws naming the file and the problem. */
export function loadDeviceMappings(dirs: string[] = [BUILT_IN_MAPPINGS_DIR]): Map<string, DeviceMapping> {
  const out = new Map<string, DeviceMapping>();
  for (const dir of dirs) {
    for (const name of readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()) {
      const file = path.join(dir, name);
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new Error(`device mapping ${file}: not valid JSON (${(err as Error).message})`);
      }
      const parsed = MappingFile.safeParse(json);
      if (!parsed.success)
        throw new Error(`device mapping ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
      const m = parsed.data;
      for (const [key, { code, unit }] of Object.entries(m.keys)) {
        if (!BY_CODE.has(code)) throw new Error(`device mapping ${file}: key ${key}: code ${code} is not one Vigil stores (domain/codes.ts)`);
        if (toCanonical(code, 1, unit) === undefined)
          throw new Error(`device mapping ${file}: key ${key}: unit ${unit} cannot be converted to ${BY_CODE.get(code)!.unit} for ${code}`);
      }
      if (out.has(m.type)) throw new Error(`device mapping ${file}: type ${m.type} is declared twice`);
      out.set(m.type, m);
    }
  }
  return out;
}
