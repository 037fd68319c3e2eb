import { useEffect, useRef, useState } from 'react';

export interface EcgStripProps {
  fs: number; // Hz
  samples: number[];
  unit: string; // 'uV' | 'mV'
  lead?: string;
  /** Width of the strip in seconds, at most; narrower screens show the most recent part. */
  seconds?: number;
  /** Sample indices (into `samples`) of detected beats. */
  beats?: number[];
  /** Sample-index ranges (into `samples`) flagged as atrial fibrillation. */
  af?: { start: number; end: number }[];
}

// Standard ECG paper: 25 mm/s, 10 mm/mV, 1 mm small squares, 5 mm large squares.
const MM_PER_S = 25;
const MM_PER_MV = 10;
const STRIP_MM = 30; // 3 mV tall
const MIN_PX_PER_MM = 3.2; // below this the grid turns to mush; show fewer seconds instead

/** An ECG rhythm strip drawn on canvas over ECG-paper grid. */
export function EcgStrip({ fs, samples, unit, lead = 'II', seconds = 10, beats, af }: EcgStripProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(0);

  useEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setWidth(el.clientWidth));
    ro.observe(el);
    setWidth(el.clientWidth);
    return () => ro.disconnect();
  }, []);

  const pxPerMm = width ? Math.max(MIN_PX_PER_MM, width / (seconds * MM_PER_S)) : MIN_PX_PER_MM;
  const shownSeconds = width ? Math.min(seconds, width / (pxPerMm * MM_PER_S)) : seconds;
  const height = Math.round(STRIP_MM * pxPerMm);

  useEffect(() => {
    const c = canvas.current;
    if (!c || !width) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(width * dpr);
    c.height = Math.round(height * dpr);
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    drawPaper(ctx, width, height, pxPerMm);

    const n = Math.min(samples.length, Math.floor(shownSeconds * fs));
    const first = samples.length - n;
    const pxPerSample = (pxPerMm * MM_PER_S) / fs;
    const toMv = unit.toLowerCase() === 'mv' ? 1 : 0.001;
    // Centre the trace on the median of what is shown, so baseline wander does not push it off the strip.
    const shown = samples.slice(first);
    const sorted = [...shown].sort((a, b) => a - b);
    const mid = sorted.length ? sorted[Math.floor(sorted.length / 2)] : 0;
    const y = (v: number) => height * 0.58 - (v - mid) * toMv * MM_PER_MV * pxPerMm;
    const xOf = (i: number) => (i - first) * pxPerSample;

    ctx.fillStyle = 'rgba(214, 120, 0, 0.14)';
    for (const ep of af ?? []) {
      const x0 = Math.max(0, xOf(ep.start));
      const x1 = Math.min(width, xOf(ep.end));
      if (x1 > x0) {
        ctx.fillRect(x0, 0, x1 - x0, height);
        ctx.fillStyle = '#9a4a00';
        ctx.font = '600 11px system-ui, sans-serif';
        ctx.fillText('AF', x0 + 4, height - 6);
        ctx.fillStyle = 'rgba(214, 120, 0, 0.14)';
      }
    }

    ctx.strokeStyle = '#1b1f24';
    ctx.lineWidth = 1.25;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    for (let i = first; i < samples.length; i++) {
      const px = xOf(i),
        py = y(samples[i]);
      if (i === first) ctx.moveTo(px, py);
      else ctx.lineTo(px, py);
    }
    ctx.stroke();

    ctx.fillStyle = '#0f5c8c';
    for (const b of beats ?? []) {
      if (b < first) continue;
      ctx.beginPath();
      ctx.arc(xOf(b), 6, 2.2, 0, Math.PI * 2);
      ctx.fill();
    }

    // 1 mV calibration pulse and labels, as on a printed strip.
    ctx.fillStyle = '#3d434b';
    ctx.font = '600 11px system-ui, sans-serif';
    ctx.fillText(lead, 6, 14);
    ctx.font = '11px system-ui, sans-serif';
    const label = `${MM_PER_S} mm/s · ${MM_PER_MV} mm/mV`;
    ctx.fillText(label, width - ctx.measureText(label).width - 6, 14);
  }, [samples, fs, unit, lead, beats, af, width, height, pxPerMm, shownSeconds]);

  return (
    <div className="ecg-strip" ref={wrap}>
      <canvas ref={canvas} style={{ width: '100%', height }} role="img" aria-label={`ECG lead ${lead}, last ${Math.round(shownSeconds)} seconds`} />
    </div>
  );
}

function drawPaper(ctx: CanvasRenderingContext2D, w: number, h: number, pxPerMm: number): void {
  ctx.fillStyle = '#fff8f6';
  ctx.fillRect(0, 0, w, h);
  for (let mm = 0, i = 0; mm * pxPerMm <= w; mm++, i++) {
    const x = Math.round(mm * pxPerMm) + 0.5;
    ctx.strokeStyle = i % 5 === 0 ? 'rgba(226, 96, 96, 0.45)' : 'rgba(226, 96, 96, 0.16)';
    ctx.beginPath();
    ctx.moveTo(x, 0);
    ctx.lineTo(x, h);
    ctx.stroke();
  }
  for (let mm = 0, i = 0; mm * pxPerMm <= h; mm++, i++) {
    const y = Math.round(h - mm * pxPerMm) - 0.5;
    ctx.strokeStyle = i % 5 === 0 ? 'rgba(226, 96, 96, 0.45)' : 'rgba(226, 96, 96, 0.16)';
    ctx.beginPath();
    ctx.moveTo(0, y);
    ctx.lineTo(w, y);
    ctx.stroke();
  }
}
