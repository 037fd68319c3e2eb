import { describe, expect, it } from 'vitest';
import { downsampleMinMax } from './downsample.ts';

describe('downsampleMinMax', () => {
  it('keeps short series untouched', () => {
    const pts: Array<[number, number]> = [[1, 1], [2, 2]];
    expect(downsampleMinMax(pts, 100)).toBe(pts);
  });
  it('caps the point count and keeps the extreme values', () => {
    const pts: Array<[number, number]> = Array.from({ length: 10_000 }, (_, i) => [i * 1000, 80 + Math.sin(i / 50) * 5]);
    pts[4321] = [4321 * 1000, 140]; // a single spike must survive
    pts[7000] = [7000 * 1000, 30];
    const out = downsampleMinMax(pts, 200);
    expect(out.length).toBeLessThanOrEqual(200);
    expect(out.some(([, v]) => v === 140)).toBe(true);
    expect(out.some(([, v]) => v === 30)).toBe(true);
    for (let i = 1; i < out.length; i++) expect(out[i][0]).toBeGreaterThanOrEqual(out[i - 1][0]);
  });
});
