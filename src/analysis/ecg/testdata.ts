/** Test helpers: where the shared PhysioNet data lives, and a synthetic ECG generator. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SHARED_DATA = process.env.VIGIL_SHARED_DATA ?? path.resolve(repoRoot, '../shared/data');
export const HAS_DATA = existsSync(path.join(SHARED_DATA, 'mitdb', '101.hea'));
export const NO_DATA_MESSAGE = `PhysioNet data not found at ${SHARED_DATA} (set VIGIL_SHARED_DATA); skipping`;

/**
 * Synthetic ECG (mV): Gaussian P, Q, R, S, T waves at the given beat times (s), plus optional noise.
 * Deterministic (seeded) so tests are repeatable.
 */
export function syntheticEcg(fs: number, beatTimesS: number[], durationS: number, noiseMv = 0, seed = 1): Float32Array {
  const n = Math.round(durationS * fs);
  const x = new Float32Array(n);
  const waves: Array<[number, number, number]> = [
    // offset s, amplitude mV, width s
    [-0.2, 0.15, 0.025],
    [-0.03, -0.1, 0.01],
    [0, 1.2, 0.012],
    [0.03, -0.25, 0.01],
    [0.3, 0.3, 0.05],
  ];
  for (const b of beatTimesS) {
    for (const [off, amp, w] of waves) {
      const c = (b + off) * fs;
      const half = Math.ceil(4 * w * fs);
      for (let i = Math.max(0, Math.floor(c - half)); i < Math.min(n, c + half); i++) {
        const t = (i - c) / fs;
        x[i] += amp * Math.exp((-t * t) / (2 * w * w));
      }
    }
  }
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  if (noiseMv > 0) for (let i = 0; i < n; i++) x[i] += noiseMv * (rand() + rand() + rand() - 1.5) * 2;
  return x;
}

/** Beat times (s) with the given RR intervals (s) starting at `t0`. */
export function beatTimes(rrS: number[], t0 = 0.5): number[] {
  const out = [t0];
  for (const rr of rrS) out.push(out[out.length - 1] + rr);
  return out;
}
