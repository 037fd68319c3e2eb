import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { loadCnn, cnnProbabilities, type CnnModel } from './cnn.ts';
import { readRecord, toPhysical } from './wfdb.ts';
import { SHARED_DATA } from './testdata.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const modelFile = path.join(here, 'model/cinc2017-cnn.json');
const HAS = existsSync(modelFile) && existsSync(path.join(SHARED_DATA, 'cinc2017', 'A00001.hea'));

describe.skipIf(!HAS)('cnn (TypeScript forward pass of the CinC CNN)', () => {
  it('reproduces the Python model probabilities to 1e-4 (scripts/cnn/export.py "check")', () => {
    const m = createRequire(import.meta.url)(modelFile) as CnnModel & { check: Array<{ record: string; probabilities: number[] }> };
    const net = loadCnn(m);
    for (const c of m.check) {
      const rec = readRecord(path.join(SHARED_DATA, 'cinc2017', c.record), ['ECG']);
      const p = cnnProbabilities(toPhysical(rec.adc, rec.gain, rec.baseline), rec.fs, net);
      m.classes.forEach((k, i) => expect(Math.abs(p[k] - c.probabilities[i])).toBeLessThan(1e-4));
    }
  });
});
