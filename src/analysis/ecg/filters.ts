/**
 * Small streaming filters used by the ECG analysis. Coefficients follow the RBJ "Audio EQ Cookbook"
 * bilinear-transform biquads (Q = 1/√2 gives a 2nd-order Butterworth response).
 */

export interface Biquad {
  b0: number;
  b1: number;
  b2: number;
  a1: number;
  a2: number;
  /** Transposed direct form II state. */
  z1: number;
  z2: number;
}

function biquad(kind: 'lowpass' | 'highpass', cutoffHz: number, fs: number): Biquad {
  const fc = Math.min(cutoffHz, fs * 0.45); // keep below Nyquist at low sampling rates
  const w0 = (2 * Math.PI * fc) / fs;
  const cos = Math.cos(w0);
  const alpha = Math.sin(w0) / (2 * Math.SQRT1_2);
  const a0 = 1 + alpha;
  const k = kind === 'lowpass' ? (1 - cos) / 2 : (1 + cos) / 2;
  const b1 = kind === 'lowpass' ? 1 - cos : -(1 + cos);
  return { b0: k / a0, b1: b1 / a0, b2: k / a0, a1: (-2 * cos) / a0, a2: (1 - alpha) / a0, z1: 0, z2: 0 };
}

export const lowpass = (cutoffHz: number, fs: number): Biquad => biquad('lowpass', cutoffHz, fs);
export const highpass = (cutoffHz: number, fs: number): Biquad => biquad('highpass', cutoffHz, fs);

/** One sample through a biquad (state kept in the object). */
export function step(f: Biquad, x: number): number {
  const y = f.b0 * x + f.z1;
  f.z1 = f.b1 * x - f.a1 * y + f.z2;
  f.z2 = f.b2 * x - f.a2 * y;
  return y;
}

/** Filters a whole array with fresh copies of the given biquads in cascade (pure). */
export function filterCascade(x: ArrayLike<number>, stages: Biquad[]): Float32Array {
  const fs = stages.map((s) => ({ ...s, z1: 0, z2: 0 }));
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    let v = x[i];
    for (const s of fs) v = step(s, v);
    y[i] = v;
  }
  return y;
}

/** Power-of-two ring buffer of Float32 samples addressed by global sample index. */
export class Ring {
  readonly data: Float32Array;
  readonly mask: number;
  constructor(minLength: number) {
    let n = 1;
    while (n < minLength) n <<= 1;
    this.data = new Float32Array(n);
    this.mask = n - 1;
  }
  set(i: number, v: number): void {
    this.data[i & this.mask] = v;
  }
  get(i: number): number {
    return this.data[i & this.mask];
  }
}
