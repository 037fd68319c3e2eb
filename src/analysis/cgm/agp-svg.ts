/**
 * Inline SVG for the AGP report: the percentile plot, the time-in-ranges bar and the daily profiles.
 * Pure string building, no DOM; every number is rounded so the markup stays small.
 */
import { GLUCOSE, MINUTE_MS, type CgmReading } from './types.ts';
import type { AgpPoint } from './agp.ts';

export const RANGE_COLORS = {
  veryHigh: '#d9622b',
  high: '#f2b33d',
  target: '#2e9e5b',
  low: '#e5484d',
  veryLow: '#9b1c1f',
} as const;
const BAND_OUTER = '#c9dcf2';
const BAND_INNER = '#7fa8d9';
const MEDIAN = '#1f4e8c';
const TARGET_FILL = '#e8f5ec';
const GRID = '#e3e6ea';
const INK = '#2b2f36';
const MUTED = '#6b7280';

const f = (v: number) => (Math.round(v * 10) / 10).toString();

interface Frame {
  x: (minute: number) => number;
  y: (mgdl: number) => number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function frame(width: number, height: number, m: { l: number; r: number; t: number; b: number }, yMax: number): Frame {
  const left = m.l;
  const right = width - m.r;
  const top = m.t;
  const bottom = height - m.b;
  return {
    left,
    right,
    top,
    bottom,
    x: (minute) => left + (minute / 1440) * (right - left),
    y: (mgdl) => bottom - (Math.min(Math.max(mgdl, 0), yMax) / yMax) * (bottom - top),
  };
}

/** Runs of consecutive points that have percentiles; a gap in the data is a gap in the plot. */
function runs(points: AgpPoint[]): AgpPoint[][] {
  // Close the day: the point at 24:00 is the point at 00:00.
  const closed = points.length && points[0].p50 !== null ? [...points, { ...points[0], minute: 1440 }] : points;
  const out: AgpPoint[][] = [];
  let cur: AgpPoint[] = [];
  for (const p of closed) {
    if (p.p50 === null) {
      if (cur.length) out.push(cur);
      cur = [];
    } else cur.push(p);
  }
  if (cur.length) out.push(cur);
  return out;
}

function band(run: AgpPoint[], fr: Frame, lo: keyof AgpPoint, hi: keyof AgpPoint, fill: string): string {
  const upper = run.map((p) => `${f(fr.x(p.minute))},${f(fr.y(p[hi] as number))}`);
  const lower = [...run].reverse().map((p) => `${f(fr.x(p.minute))},${f(fr.y(p[lo] as number))}`);
  return `<polygon points="${[...upper, ...lower].join(' ')}" fill="${fill}"/>`;
}

const HOUR_LABELS = ['12 am', '3 am', '6 am', '9 am', '12 pm', '3 pm', '6 pm', '9 pm', '12 am'];

export function agpPlotSvg(points: AgpPoint[], width = 940, height = 340): string {
  const maxP95 = Math.max(0, ...points.map((p) => p.p95 ?? 0));
  const yMax = maxP95 > 350 ? 400 : 350; // mg/dL, the AGP's usual scale; 400 when the 95th exceeds it
  const fr = frame(width, height, { l: 44, r: 44, t: 12, b: 28 }, yMax);
  const parts: string[] = [];
  // Target range shading and the reference lines.
  parts.push(
    `<rect x="${fr.left}" y="${f(fr.y(GLUCOSE.high))}" width="${f(fr.right - fr.left)}" height="${f(fr.y(GLUCOSE.low) - fr.y(GLUCOSE.high))}" fill="${TARGET_FILL}"/>`,
  );
  for (let h = 0; h <= 24; h += 3) {
    const x = f(fr.x(h * 60));
    parts.push(`<line x1="${x}" y1="${fr.top}" x2="${x}" y2="${fr.bottom}" stroke="${GRID}"/>`);
    parts.push(`<text x="${x}" y="${fr.bottom + 18}" text-anchor="middle" class="tick">${HOUR_LABELS[h / 3]}</text>`);
  }
  for (const v of [54, 70, 180, 250, yMax]) {
    const y = f(fr.y(v));
    const isTarget = v === GLUCOSE.low || v === GLUCOSE.high;
    const stroke = isTarget ? RANGE_COLORS.target : GRID;
    parts.push(
      `<line x1="${fr.left}" y1="${y}" x2="${fr.right}" y2="${y}" stroke="${stroke}" stroke-width="${isTarget ? 1.5 : 1}"${v === 54 || v === 250 ? ' stroke-dasharray="4 3"' : ''}/>`,
    );
    parts.push(`<text x="${fr.left - 6}" y="${y}" dy="0.35em" text-anchor="end" class="tick${isTarget ? ' target' : ''}">${v}</text>`);
  }
  const rs = runs(points);
  for (const run of rs) parts.push(band(run, fr, 'p5', 'p95', BAND_OUTER));
  for (const run of rs) parts.push(band(run, fr, 'p25', 'p75', BAND_INNER));
  for (const run of rs) {
    const d = run.map((p, i) => `${i ? 'L' : 'M'}${f(fr.x(p.minute))},${f(fr.y(p.p50!))}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${MEDIAN}" stroke-width="2.5" stroke-linejoin="round"/>`);
  }
  // Percentile labels at the right edge, where the last point of the day sits.
  const last = rs.length ? rs[rs.length - 1][rs[rs.length - 1].length - 1] : null;
  if (last && last.minute >= 1380) {
    const labels: [keyof AgpPoint, string][] = [
      ['p95', '95%'],
      ['p75', '75%'],
      ['p50', '50%'],
      ['p25', '25%'],
      ['p5', '5%'],
    ];
    let prevY = -Infinity;
    for (const [k, label] of labels) {
      const y = Math.max(fr.y(last[k] as number), prevY + 11); // keep labels from overlapping
      prevY = y;
      parts.push(`<text x="${fr.right + 6}" y="${f(y)}" dy="0.35em" class="tick${k === 'p50' ? ' median' : ''}">${label}</text>`);
    }
  }
  parts.push(
    `<text x="12" y="${f((fr.top + fr.bottom) / 2)}" transform="rotate(-90 12 ${f((fr.top + fr.bottom) / 2)})" text-anchor="middle" class="tick">mg/dL</text>`,
  );
  return `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="Ambulatory glucose profile: 5th to 95th percentile bands and median glucose by time of day" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

export interface RangeShare {
  key: keyof typeof RANGE_COLORS;
  label: string;
  range: string;
  percent: number;
}

/** Vertical stacked bar, very high at the top, very low at the bottom, as on the AGP report. */
export function rangeBarSvg(shares: RangeShare[], width = 56, height = 250): string {
  const total = shares.reduce((a, s) => a + s.percent, 0) || 1;
  let y = 0;
  const rects = shares
    .filter((s) => s.percent > 0)
    .map((s) => {
      const h = Math.max(2, (s.percent / total) * height); // a sliver stays visible
      const title = `${s.label} ${s.range}: ${s.percent.toFixed(1)} %`.replace(/</g, '&lt;').replace(/>/g, '&gt;');
      const r = `<rect x="0" y="${f(y)}" width="${width}" height="${f(h)}" fill="${RANGE_COLORS[s.key]}"><title>${title}</title></rect>`;
      y += h;
      return r;
    });
  return `<svg viewBox="0 0 ${width} ${f(y)}" width="${width}" height="${height}" preserveAspectRatio="none" role="img" aria-label="Time in ranges" xmlns="http://www.w3.org/2000/svg">${rects.join('')}</svg>`;
}

/** One day's trace: in-range ink, red below 70, orange above 180 (clipped copies of one path). */
export function dailyProfileSvg(readings: CgmReading[], dayStart: number, id: string, width = 124, height = 78): string {
  const fr = frame(width, height, { l: 1, r: 1, t: 2, b: 2 }, 350);
  const MAX_GAP_MS = 15 * MINUTE_MS; // min: a longer gap breaks the line
  let d = '';
  let prev: number | null = null;
  for (const r of readings) {
    const minute = (r.ts - dayStart) / MINUTE_MS;
    if (minute < 0 || minute >= 1440) continue;
    d += `${prev === null || r.ts - prev > MAX_GAP_MS ? 'M' : 'L'}${f(fr.x(minute))},${f(fr.y(r.mgdl))}`;
    prev = r.ts;
  }
  const yHigh = f(fr.y(GLUCOSE.high));
  const yLow = f(fr.y(GLUCOSE.low));
  const noon = f(fr.x(720));
  return (
    `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">` +
    `<defs><clipPath id="${id}-hi"><rect x="0" y="0" width="${width}" height="${yHigh}"/></clipPath>` +
    `<clipPath id="${id}-lo"><rect x="0" y="${yLow}" width="${width}" height="${f(height - Number(yLow))}"/></clipPath></defs>` +
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#fff"/>` +
    `<rect x="${fr.left}" y="${yHigh}" width="${f(fr.right - fr.left)}" height="${f(Number(yLow) - Number(yHigh))}" fill="${TARGET_FILL}"/>` +
    `<line x1="${noon}" y1="0" x2="${noon}" y2="${height}" stroke="${GRID}"/>` +
    `<line x1="0" y1="${yHigh}" x2="${width}" y2="${yHigh}" stroke="${RANGE_COLORS.target}" stroke-width="0.6"/>` +
    `<line x1="0" y1="${yLow}" x2="${width}" y2="${yLow}" stroke="${RANGE_COLORS.target}" stroke-width="0.6"/>` +
    (d
      ? `<path d="${d}" fill="none" stroke="${INK}" stroke-width="1.1" stroke-linejoin="round"/>` +
        `<path d="${d}" fill="none" stroke="${RANGE_COLORS.veryHigh}" stroke-width="1.4" clip-path="url(#${id}-hi)"/>` +
        `<path d="${d}" fill="none" stroke="${RANGE_COLORS.low}" stroke-width="1.6" clip-path="url(#${id}-lo)"/>`
      : `<text x="${width / 2}" y="${height / 2}" text-anchor="middle" fill="${MUTED}" font-size="10">no data</text>`) +
    `</svg>`
  );
}
