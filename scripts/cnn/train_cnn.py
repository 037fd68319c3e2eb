"""Small 1-D CNN for CinC 2017, trained on one outer fold's training records; predicts its test records.

Everything here was fixed before any outer test fold was scored (no early stopping, no tuning on outer folds):
- input: 150 Hz, band-passed 0.5-40 Hz, z-scored per recording (scripts/cnn/preprocess.py);
- network: 7 blocks of [Conv1d k=7 (same padding, no bias) -> BatchNorm -> ReLU -> MaxPool 2], channels
  16,16,32,32,64,64,64; global average and global max pooling concatenated (128) -> dropout 0.3 ->
  Linear 128->4 (N, A, O, ~); ~85 k parameters;
- training: random 15 s crops (2250 samples; shorter recordings zero-padded at the end), random amplitude
  scale 0.8-1.2, batch 32, AdamW lr 1e-3 weight decay 1e-4, cosine decay to 0 over EPOCHS = 20 epochs (set by the time budget: a 10-epoch run was stopped at epoch 3 when the first epochs took 30 s, before any outer test record was predicted),
  cross-entropy with class weights sqrt(max count / class count) (as the GBT), seed 1;
- test: the whole recording in one pass (global pooling), softmax.
Outer folds: CACHE/folds.csv, written by scripts/cnn/gbt-oof.ts from the eval's own outerFolds (seed 2017).

  python3 scripts/cnn/train_cnn.py --fold 0 --epochs 20 --cache /work/cnn-cache      # outer fold 0
  python3 scripts/cnn/train_cnn.py --fold all --epochs 20 --cache /work/cnn-cache    # final model, all records
"""
import argparse, math, os, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F

CLASSES = ['N', 'A', 'O', '~']
CROP = 2250
CH = [16, 16, 32, 32, 64, 64, 64]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers, cin = [], 1
        for c in CH:
            layers += [nn.Conv1d(cin, c, 7, padding=3, bias=False), nn.BatchNorm1d(c), nn.ReLU(), nn.MaxPool1d(2)]
            cin = c
        self.features = nn.Sequential(*layers)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(2 * cin, len(CLASSES))

    def forward(self, x):  # x: (B, 1, T)
        h = self.features(x)
        h = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return self.fc(self.drop(h))


def load(cache):
    sig = np.fromfile(os.path.join(cache, 'sig150.f32'), dtype=np.float32)
    meta = [l.split(',') for l in open(os.path.join(cache, 'sig150.csv')).read().strip().splitlines()[1:]]
    folds = {r: (lab, int(f)) for r, lab, f in (l.split(',') for l in open(os.path.join(cache, 'folds.csv')).read().strip().splitlines()[1:])}
    recs, labs, fold, xs = [], [], [], []
    for r, lab, off, n in meta:
        assert folds[r][0] == lab
        recs.append(r); labs.append(CLASSES.index(lab)); fold.append(folds[r][1])
        xs.append(sig[int(off):int(off) + int(n)])
    return recs, np.array(labs), np.array(fold), xs


def batch(xs, idx, rng, aug=True):
    out = np.zeros((len(idx), 1, CROP), dtype=np.float32)
    for j, i in enumerate(idx):
        x = xs[i]
        if len(x) > CROP:
            s = rng.integers(0, len(x) - CROP + 1); x = x[s:s + CROP]
        out[j, 0, :len(x)] = x * (rng.uniform(0.8, 1.2) if aug else 1.0)
    return torch.from_numpy(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--fold', required=True)
    ap.add_argument('--epochs', type=int, default=20)
    ap.add_argument('--cache', default='/work/cnn-cache')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=1, help='replicate runs only; outputs get a -seedN suffix when not 1')
    ap.add_argument('--max-batches', type=int, default=0, help='timing only: stop each epoch after this many batches')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed); rng = np.random.default_rng(a.seed)
    recs, y, fold, xs = load(a.cache)
    train = np.arange(len(y)) if a.fold == 'all' else np.where(fold != int(a.fold))[0]
    test = np.array([], dtype=int) if a.fold == 'all' else np.where(fold == int(a.fold))[0]
    counts = np.bincount(y[train], minlength=4)
    w = torch.tensor(np.sqrt(counts.max() / np.maximum(counts, 1)), dtype=torch.float32)
    print(f'fold {a.fold}: train {len(train)} test {len(test)} counts {counts.tolist()} weights {w.numpy().round(3).tolist()}', flush=True)
    net = Net()
    print('parameters', sum(p.numel() for p in net.parameters()), flush=True)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    bs = 32
    nb = math.ceil(len(train) / bs)
    total = a.epochs * nb
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    for ep in range(a.epochs):
        net.train(); t0 = time.time(); perm = rng.permutation(train); tl = 0.0
        for b in range(nb):
            if a.max_batches and b >= a.max_batches: break
            idx = perm[b * bs:(b + 1) * bs]
            xb = batch(xs, idx, rng); yb = torch.from_numpy(y[idx])
            loss = F.cross_entropy(net(xb), yb, weight=w)
            opt.zero_grad(); loss.backward(); opt.step(); sched.step(); tl += loss.item()
        print(f'epoch {ep + 1}/{a.epochs} loss {tl / nb:.4f} {time.time() - t0:.1f}s', flush=True)
    if a.max_batches:
        return  # timing run: nothing saved, the test records are not touched
    tag = f'fold{a.fold}' + (f'-seed{a.seed}' if a.seed != 1 else '')
    torch.save(net.state_dict(), os.path.join(a.cache, f'cnn-{tag}.pt'))
    if len(test):
        net.eval(); P = []
        with torch.no_grad():
            for i in test:
                P.append(torch.softmax(net(torch.from_numpy(xs[i]).view(1, 1, -1)), dim=1)[0].numpy())
        with open(os.path.join(a.cache, f'cnn-oof-{tag}.csv'), 'w') as f:
            f.write('record,label,fold,pN,pA,pO,p~\n')
            for i, p in zip(test, P):
                f.write(f'{recs[i]},{CLASSES[y[i]]},{fold[i]},' + ','.join(f'{v:.7g}' for v in p) + '\n')
        print('wrote', f'cnn-oof-{tag}.csv', flush=True)


if __name__ == '__main__':
    main()
