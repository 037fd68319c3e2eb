"""Preprocess CinC 2017 recordings once for the CNN experiment (output outside the repo).

Per recording: int16 samples from the .mat (MATLAB v4; format 16 at byte offset 24, as the .hea says),
/1000 -> mV, 4th-order Butterworth band-pass 0.5-40 Hz (zero phase, sosfiltfilt) at 300 Hz, keep every
2nd sample (150 Hz; the 40 Hz low-pass is the anti-alias filter), z-score per recording (mean, SD), clip to
+-20. Writes CACHE/sig150.f32 (all recordings concatenated, float32) and CACHE/sig150.csv
(record,label,offset,length) in REFERENCE order of the shipped records.

  python3 scripts/cnn/preprocess.py /work/shared/data/cinc2017 /work/cnn-cache
"""
import os, sys, numpy as np
from scipy.signal import butter, sosfiltfilt

FS_IN, FS = 300, 150
SOS = butter(4, [0.5, 40], btype='bandpass', fs=FS_IN, output='sos')


def read(path):
    hea = open(path + '.hea').read().split('\n')
    n = int(hea[0].split()[3])
    sig = hea[1].split()
    assert sig[1].startswith('16+24'), sig
    gain = float(sig[2].split('/')[0])
    x = np.frombuffer(open(path + '.mat', 'rb').read(), dtype='<i2', offset=24, count=n).astype(np.float64)
    return x / gain


def prep(x):
    y = sosfiltfilt(SOS, x)[::FS_IN // FS]
    y = (y - y.mean()) / (y.std() + 1e-6)
    return np.clip(y, -20, 20).astype(np.float32)


def main(src, out):
    rows = [l.split(',') for l in open(os.path.join(src, 'REFERENCE.csv')).read().strip().splitlines()]
    rows = [r for r in rows if os.path.exists(os.path.join(src, r[0] + '.hea'))]
    chunks, meta, off = [], [], 0
    for rec, lab in rows:
        y = prep(read(os.path.join(src, rec)))
        chunks.append(y); meta.append(f'{rec},{lab},{off},{len(y)}'); off += len(y)
    np.concatenate(chunks).tofile(os.path.join(out, 'sig150.f32'))
    open(os.path.join(out, 'sig150.csv'), 'w').write('record,label,offset,length\n' + '\n'.join(meta) + '\n')
    print(len(rows), 'records', off, 'samples')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
