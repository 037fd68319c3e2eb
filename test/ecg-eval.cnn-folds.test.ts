/**
 * Issue 12: the evaluation scores each CinC record with the CNN of its own outer fold, and refuses a CNN whose
 * training set (stamped by scripts/cnn/export_folds.py) is not exactly that fold's training records.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { foldCnn, outerFolds } from '../scripts/eval/cinc-cv.ts';
import { SHARED_DATA } from '../src/analysis/ecg/testdata.ts';
import type { CincSet } from '../scripts/eval/cinc-data.ts';

const dir = path.join(SHARED_DATA, 'cinc2017');
const HAS = existsSync(path.join(dir, 'REFERENCE.csv'));

describe.skipIf(!HAS)('the outer-fold CNNs of eval:ecg', () => {
  const rows = HAS
    ? readFileSync(path.join(dir, 'REFERENCE.csv'), 'utf8')
        .trim()
        .split(/\r?\n/)
        .map((l) => l.split(','))
        .filter(([r]) => existsSync(path.join(dir, `${r}.hea`)))
    : [];
  const set: CincSet = { records: rows.map((r) => r[0]), labels: rows.map((r) => r[1]), X: [], dir };

  it("each fold's CNN was trained on exactly that fold's training records, and is refused for any other set", () => {
    const folds = outerFolds(set);
    for (const f of folds) expect(() => foldCnn(set, f.train, f.index)).not.toThrow();
    // One held-out record slipped into the training set, or another fold's model: refused.
    expect(() => foldCnn(set, [...folds[0].train, folds[0].test[0]], 0)).toThrow(/not trained on exactly outer fold 0/);
    expect(() => foldCnn(set, folds[1].train, 0)).toThrow(/refusing to score/);
  });
});
