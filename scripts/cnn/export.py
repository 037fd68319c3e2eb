"""Exports a trained CNN (state dict from train_cnn.py) for the TypeScript forward pass (src/analysis/ecg/cnn.ts).

Batch norm (eval mode) is folded into each convolution (w * g / sqrt(v + eps), b = beta - mean * g / sqrt(v + eps));
weights float32 little-endian, base64. Also writes the preprocessing filter (scipy butter sos, sosfilt_zi, the
sosfiltfilt default padlen) and, under "check", the Python probabilities of a few records (the TS test compares).

  python3 scripts/cnn/export.py /work/cnn-cache/cnn-foldall.pt src/analysis/ecg/model/cinc2017-cnn.json
"""
import base64, json, sys, os, numpy as np, torch
from scipy.signal import sosfilt_zi
sys.path.insert(0, os.path.dirname(__file__))
import preprocess as pp
import train_cnn as tc

CHECK = ['A00001', 'A00002', 'A00003', 'A00004', 'A00005', 'A00008']


def b64(a): return base64.b64encode(np.ascontiguousarray(a, dtype='<f4').tobytes()).decode()


def main(pt, out, data='/work/shared/data/cinc2017'):
    net = tc.Net(); net.load_state_dict(torch.load(pt)); net.eval()
    convs, cin = [], 1
    mods = list(net.features)
    for j in range(0, len(mods), 4):
        conv, bn = mods[j], mods[j + 1]
        s = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach().numpy()
        w = conv.weight.detach().numpy() * s[:, None, None]
        b = (bn.bias.detach().numpy() - bn.running_mean.numpy() * s)
        convs.append({'cin': conv.in_channels, 'cout': conv.out_channels, 'k': conv.kernel_size[0], 'w': b64(w), 'b': b64(b)})
    sos = pp.SOS
    ntaps = 2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    check = []
    with torch.no_grad():
        for r in CHECK:
            x = pp.prep(pp.read(os.path.join(data, r)))
            p = torch.softmax(net(torch.from_numpy(x).view(1, 1, -1)), dim=1)[0].numpy()
            check.append({'record': r, 'probabilities': [float(v) for v in p]})
    m = {
        'note': 'CinC 2017 1-D CNN (shipped in 2.6.0, averaged with the feature trees by classify.ts): scripts/cnn/train_cnn.py --fold all, exported by scripts/cnn/export.py',
        'source': os.path.basename(pt),
        'classes': tc.CLASSES, 'fsIn': pp.FS_IN, 'decimate': pp.FS_IN // pp.FS, 'clip': 20,
        'sos': sos.tolist(), 'zi': sosfilt_zi(sos).tolist(), 'padlen': 3 * ntaps,
        'convs': convs,
        'fc': {'cin': net.fc.in_features, 'cout': net.fc.out_features, 'w': b64(net.fc.weight.detach().numpy()), 'b': b64(net.fc.bias.detach().numpy())},
        'check': check,
    }
    open(out, 'w').write(json.dumps(m) + '\n')
    print('wrote', out, os.path.getsize(out), 'bytes')


if __name__ == '__main__':
    main(*sys.argv[1:])
