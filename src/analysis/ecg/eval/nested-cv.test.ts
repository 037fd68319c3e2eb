import { describe, it, expect } from 'vitest';
import { assignFolds, nestedCrossValidate, splitFolds, innerFolds, spread } from './nested-cv.ts';

const recs = Array.from({ length: 23 }, (_, i) => ({ id: `r${i}`, db: i % 3 ? 'a' : 'b', v: i }));

describe('record-wise nested cross-validation', () => {
  it('never hands a test record to the chooser, and scores every record exactly once', () => {
    const seenByChooser: string[][] = [];
    const res = nestedCrossValidate(recs, {
      id: (r) => r.id,
      folds: 5,
      seed: 7,
      stratum: (r) => r.db,
      choose: (train) => {
        seenByChooser.push(train.map((r) => r.id));
        return train.reduce((s, r) => s + r.v, 0);
      },
      score: (r, c) => ({ id: r.id, c }),
    });
    const scored = res.flatMap((f) => f.results.map((x) => x.id)).sort();
    expect(scored).toEqual(recs.map((r) => r.id).sort());
    res.forEach((f, k) => {
      for (const t of f.test) expect(seenByChooser[k]).not.toContain(t);
      expect(seenByChooser[k].length + f.test.length).toBe(recs.length);
    });
  });

  it('hands the chooser a frozen array it cannot extend with test records', () => {
    nestedCrossValidate(recs, {
      id: (r) => r.id,
      folds: 3,
      seed: 1,
      choose: (train) => {
        expect(Object.isFrozen(train)).toBe(true);
        expect(() => (train as typeof recs).push(recs[0])).toThrow();
        return 0;
      },
      score: () => 0,
    });
  });

  it('keeps records of one patient together and depends only on ids and seed', () => {
    const ids = ['p1', 'p1', 'p2', 'p3', 'p3', 'p4', 'p5', 'p6'];
    const a = assignFolds(ids, 3, 42);
    const b = assignFolds([...ids].reverse(), 3, 42);
    for (const id of ids) expect(a.get(id)).toBe(b.get(id));
    const folds = splitFolds(
      ids.map((id, i) => ({ id, i })),
      (r) => r.id,
      3,
      42,
    );
    for (const f of folds) for (const t of f.test) expect(f.train.some((r) => r.id === t.id)).toBe(false);
  });

  it('balances strata across folds and inner folds stay inside the training set', () => {
    const f = assignFolds(
      recs.map((r) => r.id),
      4,
      3,
      recs.map((r) => r.db),
    );
    for (let k = 0; k < 4; k++) {
      const inFold = recs.filter((r) => f.get(r.id) === k);
      expect(inFold.filter((r) => r.db === 'b').length).toBeGreaterThanOrEqual(1);
    }
    const outer = splitFolds(recs, (r) => r.id, 4, 3)[0];
    for (const inner of innerFolds(outer.train, (r) => r.id, 3, 3)) {
      for (const r of [...inner.train, ...inner.test]) expect(outer.test).not.toContain(r);
    }
  });

  it('refuses too few records and reports the spread', () => {
    expect(() => assignFolds(['a', 'b'], 3, 1)).toThrow(/cannot fill 3 folds/);
    const s = spread([0.9, 1, 1.1]);
    expect(s.mean).toBeCloseTo(1);
    expect(s.sd).toBeCloseTo(0.1);
    expect(s.min).toBe(0.9);
    expect(s.max).toBe(1.1);
  });
});
