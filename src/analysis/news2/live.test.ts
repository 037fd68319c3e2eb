import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_AGE_MS, scoreNews2FromLatest, type LatestVitals, type News2Settings } from './live.ts';

const NOW = Date.parse('2026-11-24T10:00:00Z');
const MIN = 60_000;
const at = (minutesAgo: number) => NOW - minutesAgo * MIN;

const fresh: LatestVitals = {
  respiratoryRate: { value: 16, ts: at(5) },
  spo2: { value: 97, ts: at(5) },
  systolicBP: { value: 120, ts: at(10) },
  pulse: { value: 70, ts: at(5) },
  temperature: { value: 37, ts: at(30) },
};
const settings: News2Settings = { spo2Scale: 1, onOxygen: false, consciousness: { value: 'A', ts: at(20) } };

describe('scoreNews2FromLatest', () => {
  it('scores a complete fresh set', () => {
    const r = scoreNews2FromLatest(fresh, settings, NOW);
    expect(r).toMatchObject({ complete: true, score: 0, risk: 'low', partialScore: 0, missing: [], stale: [] });
    expect(r.algorithm).toEqual({ name: 'news2-rcp-2017', version: '1.0.0' });
    expect(r.oldestInputTs).toBe(at(30));
  });

  it('accepts LOINC keys and prefers the newer of two entries for one parameter', () => {
    const latest: LatestVitals = {
      '9279-1': { value: 26, ts: at(1) }, // newer: RR 26 → 3
      respiratoryRate: { value: 16, ts: at(5) },
      '59408-5': { value: 97, ts: at(5) },
      '8480-6': { value: 120, ts: at(5) },
      '8867-4': { value: 70, ts: new Date(at(5)).toISOString() },
      '8310-5': { value: 37, ts: at(5) },
    };
    expect(scoreNews2FromLatest(latest, settings, NOW)).toMatchObject({ complete: true, score: 3, risk: 'low-medium' });
  });

  it('never scores a missing parameter as 0: incomplete, null score, partial as a lower bound', () => {
    const { temperature: _omit, ...noTemp } = fresh;
    const r = scoreNews2FromLatest({ ...noTemp, pulse: { value: 135, ts: at(2) } }, settings, NOW);
    expect(r).toMatchObject({ complete: false, score: null, risk: null, partialScore: 3, minimumRisk: 'low-medium' });
    expect(r.missing).toEqual(['temperature']);
    expect(r.components.temperature).toBeUndefined();
  });

  it('treats values older than the window (60 min default) as stale, the edge inclusive', () => {
    expect(DEFAULT_MAX_AGE_MS).toBe(60 * MIN);
    const edge = scoreNews2FromLatest({ ...fresh, temperature: { value: 37, ts: at(60) } }, settings, NOW);
    expect(edge.complete).toBe(true);
    const old = scoreNews2FromLatest({ ...fresh, temperature: { value: 39.5, ts: at(61) } }, settings, NOW);
    expect(old).toMatchObject({ complete: false, stale: ['temperature'], partialScore: 0 });
  });

  it('honours a custom window and treats future timestamps beyond 2 min skew as stale', () => {
    const r = scoreNews2FromLatest({ ...fresh, pulse: { value: 70, ts: NOW + 3 * MIN } }, { ...settings, maxAgeMs: 15 * MIN }, NOW);
    expect(r.stale).toEqual(['pulse', 'consciousness', 'temperature']); // assessed 20 min, temperature 30 min ago
  });

  it('needs the oxygen setting and a fresh consciousness assessment', () => {
    const r = scoreNews2FromLatest(fresh, { spo2Scale: 1, consciousness: { value: 'A', ts: at(90) } }, NOW);
    expect(r).toMatchObject({ complete: false, missing: ['airOrOxygen'], stale: ['consciousness'] });
  });

  it('reports a high lower bound even when incomplete, so alerts are never suppressed', () => {
    const r = scoreNews2FromLatest(
      { respiratoryRate: { value: 30, ts: at(1) }, spo2: { value: 85, ts: at(1) }, pulse: { value: 140, ts: at(1) } },
      { spo2Scale: 1, onOxygen: true },
      NOW,
    );
    expect(r).toMatchObject({ complete: false, partialScore: 11, minimumRisk: 'high' });
    expect(r.missing).toEqual(['systolicBP', 'consciousness', 'temperature']);
  });

  it('uses scale 2 with the oxygen setting', () => {
    const r = scoreNews2FromLatest({ ...fresh, spo2: { value: 97, ts: at(1) } }, { ...settings, spo2Scale: 2, onOxygen: true }, NOW);
    expect(r).toMatchObject({ complete: true, score: 5, risk: 'medium', components: { spo2: 3, airOrOxygen: 2 } });
  });

  it('counts a non-finite value as missing', () => {
    const r = scoreNews2FromLatest({ ...fresh, pulse: { value: Number.NaN, ts: at(1) } }, settings, NOW);
    expect(r.missing).toEqual(['pulse']);
  });
});
