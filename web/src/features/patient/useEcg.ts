import { useEffect, useState } from 'react';
import { api, ApiError } from '../../api/client.ts';
import type { EcgStrip } from '@contracts';
import { useEcgSubscription, useLiveStream } from '../../api/useLiveStream.ts';
import { toMs } from '../../lib/format.ts';

const STRIP_SECONDS = 10;

export interface EcgBuffer {
  fs: number;
  lead: string;
  unit: string;
  /** Epoch ms of samples[0]. */
  start: number;
  samples: number[];
  beats: number[];
  af: { start: number; end: number }[];
}

export type EcgState = { state: 'loading' } | { state: 'none' } | { state: 'error'; error: Error } | { state: 'ready'; strip: EcgBuffer };

/**
 * AF episodes may come as sample indices into the strip or as epoch ms; both become indices.
 * Anything past the strip's sample count by far is taken to be a timestamp.
 */
function afToIndices(strip: Extract<EcgStrip, { fs: number }>): { start: number; end: number }[] {
  return strip.af.map((ep) =>
    ep.start > strip.samples.length * 4 ? { start: ((ep.start - strip.start) / 1000) * strip.fs, end: ((ep.end - strip.start) / 1000) * strip.fs } : ep,
  );
}

/** The latest 10 s strip, then live chunks appended and the oldest samples dropped. */
export function useEcg(patientId: string): EcgState {
  const [st, setSt] = useState<EcgState>({ state: 'loading' });
  useEcgSubscription(patientId);

  useEffect(() => {
    const ctrl = new AbortController();
    setSt({ state: 'loading' });
    api.ecg(patientId, STRIP_SECONDS, ctrl.signal).then(
      (s) => {
        if (ctrl.signal.aborted) return;
        if (s.fs === null || s.samples.length === 0) return setSt({ state: 'none' });
        setSt({ state: 'ready', strip: { fs: s.fs, lead: s.lead, unit: s.unit, start: s.start, samples: s.samples, beats: s.beats, af: afToIndices(s) } });
      },
      (err: unknown) => {
        if (ctrl.signal.aborted) return;
        if (err instanceof ApiError && err.status === 404) setSt({ state: 'none' });
        else setSt({ state: 'error', error: err as Error });
      },
    );
    return () => ctrl.abort();
  }, [patientId]);

  useLiveStream((msg) => {
    if (msg.type !== 'ecg' || msg.patientId !== patientId) return;
    setSt((prev) => {
      const ts = toMs(msg.ts);
      const keep = msg.fs * STRIP_SECONDS;
      const base: EcgBuffer =
        prev.state === 'ready' && prev.strip.fs === msg.fs ? prev.strip : { fs: msg.fs, lead: msg.lead, unit: 'uV', start: ts, samples: [], beats: [], af: [] };
      const samples = base.samples.concat(msg.samples);
      const drop = Math.max(0, samples.length - keep);
      return {
        state: 'ready',
        strip: {
          ...base,
          lead: msg.lead,
          start: base.start + (drop / msg.fs) * 1000,
          samples: drop ? samples.slice(drop) : samples,
          beats: base.beats.map((b) => b - drop).filter((b) => b >= 0),
          af: base.af.map((e) => ({ start: e.start - drop, end: e.end - drop })).filter((e) => e.end > 0),
        },
      };
    });
  });
  return st;
}
