"""Scores the CNN experiment's out-of-fold predictions (no choice is made here).

PRE-DECLARED FUSION RULE (fixed and committed before any CNN outer-fold prediction existed):
  p_fused = 0.5 * p_CNN + 0.5 * p_GBT, prediction = arg max over (N, A, O, ~),
  where p_CNN is the CNN's softmax on the whole recording and p_GBT the raw class probabilities of the GBT
  model the eval trained for that outer fold (its chosen class multipliers are NOT applied in the fusion).
Reported beside it: GBT alone as the eval scores it (scaled arg-max with the fold's multipliers, i.e. the
shipped procedure's 0.820) and CNN alone (arg max of its softmax).
Score = mean F1 of N, A, O (challenge rule, as src/analysis/ecg/eval/f1.ts); per-fold spread SD with n - 1.

  python3 scripts/cnn/score.py /work/cnn-cache            # seed 1 (the primary run)
  python3 scripts/cnn/score.py /work/cnn-cache -seed2     # a replicate with training seed 2
"""
import sys, os, glob, statistics as st

C = ['N', 'A', 'O', '~']


def f1s(truth, pred):
    m = [[0] * 4 for _ in C]
    for t, p in zip(truth, pred): m[C.index(t)][C.index(p)] += 1
    out = []
    for k in range(4):
        tp = m[k][k]; fn = sum(m[k]) - tp; fp = sum(r[k] for r in m) - tp
        out.append(2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else float('nan'))
    return out, m


def score(truth, pred):
    f, m = f1s(truth, pred)
    return sum(f[:3]) / 3, f, m


def argmax(p): return C[max(range(4), key=lambda k: p[k])]


def main(cache, suffix=''):
    gbt = {}
    for l in open(os.path.join(cache, 'gbt-oof.csv')).read().strip().splitlines()[1:]:
        v = l.split(','); gbt[v[0]] = (v[1], int(v[2]), [float(x) for x in v[3:7]], v[11])
    cnn = {}
    for fn in sorted(glob.glob(os.path.join(cache, f'cnn-oof-fold[0-9]{suffix}.csv'))):
        for l in open(fn).read().strip().splitlines()[1:]:
            v = l.split(','); cnn[v[0]] = (v[1], int(v[2]), [float(x) for x in v[3:7]])
    recs = [r for r in gbt if r in cnn]
    for r in recs: assert gbt[r][0] == cnn[r][0] and gbt[r][1] == cnn[r][1], r
    folds = sorted({gbt[r][1] for r in recs})
    print(f'{len(recs)} records with both predictions (GBT {len(gbt)}, CNN {len(cnn)}), folds {folds}')
    methods = {
        'GBT alone (eval: scaled arg-max)': lambda r: gbt[r][3],
        'GBT alone (raw arg-max)': lambda r: argmax(gbt[r][2]),
        'CNN alone': lambda r: argmax(cnn[r][2]),
        'FUSION 0.5 CNN + 0.5 GBT (pre-declared)': lambda r: argmax([(a + b) / 2 for a, b in zip(cnn[r][2], gbt[r][2])]),
    }
    for name, pred in methods.items():
        s, f, m = score([gbt[r][0] for r in recs], [pred(r) for r in recs])
        per = []
        for k in folds:
            rr = [r for r in recs if gbt[r][1] == k]
            per.append(score([gbt[r][0] for r in rr], [pred(r) for r in rr])[0])
        sd = st.stdev(per) if len(per) > 1 else 0.0
        print(f'\n{name}: pooled {s:.4f}  F1 N {f[0]:.3f} A {f[1]:.3f} O {f[2]:.3f} ~ {f[3]:.3f}')
        print(f'  per fold {" ".join(f"{x:.4f}" for x in per)}  mean {st.mean(per):.4f} ± {sd:.4f} ({min(per):.4f}-{max(per):.4f})')
        print('  confusion (rows truth N A O ~, cols predicted):', m)


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else '/work/cnn-cache', sys.argv[2] if len(sys.argv) > 2 else '')
