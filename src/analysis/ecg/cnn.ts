/**
 * Small 1-D CNN for short single-lead records (CinC 2017 classes N, A, O, ~): pure TypeScript forward pass
 * of the network trained by scripts/cnn/train_cnn.py; classify.ts averages it with the feature trees (2.6.0).
 * Parameters: model/cinc2017-cnn.json, written by scripts/cnn/export.py (batch norm folded
 * into the convolutions, weights float32 little-endian, base64).
 *
 * Preprocessing = scripts/cnn/preprocess.py: at 300 Hz a zero-phase Butterworth band-pass 0.5–40 Hz
 * (scipy sosfiltfilt: odd extension, steady-state initial conditions), every 2nd sample (150 Hz), z-score
 * (population SD), clip to ±20. Network: blocks of [conv k (same padding) + bias → ReLU → max-pool 2],
 * global average and max pooling concatenated, dense → softmax.
 */
import { createRequire } from 'node:module';

export interface CnnModel {
  classes: string[];
  fsIn: number;
  decimate: number;
  clip: number;
  /** Second-order sections [b0, b1, b2, a0, a1, a2] and their steady-state initial conditions (scipy sosfilt_zi). */
  sos: number[][];
  zi: number[][];
  padlen: number;
  convs: Array<{ cin: number; cout: number; k: number; w: string; b: string }>;
  fc: { cin: number; cout: number; w: string; b: string };
}

interface Conv {
  cin: number;
  cout: number;
  k: number;
  w: Float32Array;
  b: Float32Array;
}
export interface LoadedCnn {
  model: CnnModel;
  convs: Conv[];
  fc: Conv;
}

const f32 = (b64: string) => {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
};

export function loadCnn(model: CnnModel): LoadedCnn {
  const conv = (c: { cin: number; cout: number; k?: number; w: string; b: string }): Conv => ({
    cin: c.cin,
    cout: c.cout,
    k: c.k ?? 1,
    w: f32(c.w),
    b: f32(c.b),
  });
  return { model, convs: model.convs.map(conv), fc: conv(model.fc) };
}

let cached: LoadedCnn | undefined;
export function defaultCnn(): LoadedCnn {
  if (!cached) cached = loadCnn(createRequire(import.meta.url)('./model/cinc2017-cnn.json') as CnnModel);
  return cached;
}

function sosfilt(sos: number[][], zi: number[][], x: Float64Array, x0: number): Float64Array {
  let y = x;
  sos.forEach(([b0, b1, b2, , a1, a2], s) => {
    const out = new Float64Array(y.length);
    let z0 = zi[s][0] * x0,
      z1 = zi[s][1] * x0;
    for (let i = 0; i < y.length; i++) {
      const xi = y[i];
      const yi = b0 * xi + z0;
      z0 = b1 * xi - a1 * yi + z1;
      z1 = b2 * xi - a2 * yi;
      out[i] = yi;
    }
    y = out;
    // scipy scales every section's zi by the first INPUT sample of the cascade (zi * x_0), not by the section's own input
  });
  return y;
}

/** scipy.signal.sosfiltfilt(sos, x) with padtype 'odd' and the default padlen. */
export function sosfiltfilt(sos: number[][], zi: number[][], padlen: number, x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const e = padlen;
  if (n <= e) throw new RangeError(`signal of ${n} samples is too short for the filter (needs more than ${e})`);
  const ext = new Float64Array(n + 2 * e);
  for (let i = 0; i < e; i++) ext[i] = 2 * x[0] - x[e - i];
  for (let i = 0; i < n; i++) ext[e + i] = x[i];
  for (let i = 0; i < e; i++) ext[e + n + i] = 2 * x[n - 1] - x[n - 2 - i];
  const y1 = sosfilt(sos, zi, ext, ext[0]);
  y1.reverse();
  const y2 = sosfilt(sos, zi, y1, y1[0]);
  y2.reverse();
  return y2.subarray(e, e + n);
}

/** Network input from a recording in mV at model.fsIn. */
export function preprocess(m: CnnModel, x: ArrayLike<number>, fs: number): Float32Array {
  if (fs !== m.fsIn) throw new RangeError(`the CNN expects ${m.fsIn} Hz input, got ${fs} Hz`);
  const f = sosfiltfilt(m.sos, m.zi, m.padlen, x);
  const n = Math.ceil(f.length / m.decimate);
  const y = new Float64Array(n);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += y[i] = f[i * m.decimate];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (y[i] - mean) ** 2;
  const sd = Math.sqrt(v / n) + 1e-6;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.max(-m.clip, Math.min(m.clip, (y[i] - mean) / sd));
  return out;
}

/** Conv (same padding) + bias → ReLU → max-pool 2 (floor), channels-first [c][t]. */
function block(c: Conv, x: Float32Array, len: number): { y: Float32Array; len: number } {
  const { cin, cout, k, w, b } = c;
  const pad = (k - 1) >> 1;
  const acc = new Float32Array(len);
  const half = len >> 1;
  const y = new Float32Array(cout * half);
  for (let o = 0; o < cout; o++) {
    acc.fill(b[o]);
    for (let i = 0; i < cin; i++) {
      const xo = i * len;
      const wo = (o * cin + i) * k;
      if (k === 7 && len > 6) {
        // Interior in one pass (7 taps unrolled), then the 3 edge samples each side.
        const w0 = w[wo],
          w1 = w[wo + 1],
          w2 = w[wo + 2],
          w3 = w[wo + 3],
          w4 = w[wo + 4],
          w5 = w[wo + 5],
          w6 = w[wo + 6];
        for (let t = 3, p = xo; t < len - 3; t++, p++)
          acc[t] += w0 * x[p] + w1 * x[p + 1] + w2 * x[p + 2] + w3 * x[p + 3] + w4 * x[p + 4] + w5 * x[p + 5] + w6 * x[p + 6];
        for (const t of [0, 1, 2, len - 3, len - 2, len - 1])
          for (let j = 0; j < 7; j++) {
            const u = t + j - 3;
            if (u >= 0 && u < len) acc[t] += w[wo + j] * x[xo + u];
          }
        continue;
      }
      for (let j = 0; j < k; j++) {
        const wj = w[wo + j];
        const sh = j - pad; // acc[t] += wj * x[t + sh]
        const t0 = Math.max(0, -sh),
          t1 = Math.min(len, len - sh);
        for (let t = t0; t < t1; t++) acc[t] += wj * x[xo + t + sh];
      }
    }
    const yo = o * half;
    for (let t = 0; t < half; t++) {
      const a = acc[2 * t],
        bb = acc[2 * t + 1];
      const mx = a > bb ? a : bb;
      y[yo + t] = mx > 0 ? mx : 0;
    }
  }
  return { y, len: half };
}

/** Class probabilities (model.classes order) of a preprocessed input. */
export function forward(net: LoadedCnn, input: Float32Array): number[] {
  let x = input,
    len = input.length;
  for (const c of net.convs) ({ y: x, len } = block(c, x, len));
  const C = net.convs[net.convs.length - 1].cout;
  const h = new Float64Array(2 * C);
  for (let c = 0; c < C; c++) {
    let s = 0,
      mx = -Infinity;
    for (let t = 0; t < len; t++) {
      const v = x[c * len + t];
      s += v;
      if (v > mx) mx = v;
    }
    h[c] = s / len;
    h[C + c] = mx;
  }
  const { cout, cin, w, b } = net.fc;
  const z = Array.from({ length: cout }, (_, o) => {
    let s = b[o];
    for (let i = 0; i < cin; i++) s += w[o * cin + i] * h[i];
    return s;
  });
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const tot = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / tot);
}

/** Probabilities of a recording (mV at the model's input rate, 300 Hz), keyed by class. */
export function cnnProbabilities(x: ArrayLike<number>, fs: number, net: LoadedCnn = defaultCnn()): Record<string, number> {
  const p = forward(net, preprocess(net.model, x, fs));
  return Object.fromEntries(net.model.classes.map((c, k) => [c, p[k]]));
}
