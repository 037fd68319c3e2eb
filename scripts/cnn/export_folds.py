"""Exports the five outer-fold CNNs for `npm run eval:ecg` (scripts/eval/cinc-cv.ts), each stamped with the
records it was trained on, so the evaluation can refuse a model whose training set is not exactly its fold's
training set (no record is ever scored by a CNN that saw it).

  /usr/bin/python3 scripts/cnn/export_folds.py /work/cnn-cache scripts/eval/cinc-cnn-folds

trainedOn.sha256 = SHA-256 of the training records' names, sorted, joined by "\n" (the records of CACHE/folds.csv
whose fold is not F: what train_cnn.py --fold F trained on).
"""
import csv, hashlib, json, os, sys
sys.path.insert(0, os.path.dirname(__file__))
import export


def main(cache, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    rows = list(csv.DictReader(open(os.path.join(cache, 'folds.csv'))))
    for f in range(5):
        train = sorted(r['record'] for r in rows if int(r['fold']) != f)
        out = os.path.join(out_dir, f'fold{f}.json')
        export.main(os.path.join(cache, f'cnn-fold{f}.pt'), out)
        m = json.load(open(out))
        del m['check']  # the shipped model's parity test covers the forward pass
        m['note'] = f'CinC 2017 CNN of outer fold {f} (evaluation only): trained on the other folds\' records (scripts/cnn/train_cnn.py --fold {f})'
        m['fold'] = f
        m['trainedOn'] = {'records': len(train), 'sha256': hashlib.sha256('\n'.join(train).encode()).hexdigest()}
        open(out, 'w').write(json.dumps(m) + '\n')
        print('fold', f, len(train), 'training records', m['trainedOn']['sha256'][:16])


if __name__ == '__main__':
    main(*sys.argv[1:])
