import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { evaluate, type RuleState, type Signal, type Transition } from './rule-engine.ts';
import { DEFAULT_RULES, parseRuleDefinition } from './rule-schema.ts';
import { shouldNotify, DEFAULT_PREFERENCES } from './preferences.ts';
import { backoffMs } from './delivery/delivery.worker.ts';
import { signWebhook } from './delivery/webhook.channel.ts';

const T0 = Date.UTC(2026, 0, 1, 12);
const SEC = 1000;
const MIN = 60_000;
const spo2 = parseRuleDefinition(DEFAULT_RULES['spo2-low']);
const reading = (code: string, value: number, ts: number): Signal => ({ type: 'reading', patientId: 'p', deviceId: 'd', code, value, ts });

/** Runs signals through one rule, returning the transitions in order. */
function run(rule: ReturnType<typeof parseRuleDefinition>, signals: Array<[Signal, number]>): { transitions: Transition[]; state: RuleState | undefined } {
  let state: RuleState | undefined;
  const transitions: Transition[] = [];
  for (const [s, now] of signals) {
    const r = evaluate(state, s, rule, now);
    state = r.state;
    if (r.transition) transitions.push(r.transition);
  }
  return { transitions, state };
}

describe('threshold with hysteresis and minimum duration (SpO2 < 90 for 2 min, clears > 92)', () => {
  it('does not alert on one dip', () => {
    const seq = [97, 96, 86, 97, 97].map((v, i) => [reading('59408-5', v, T0 + i * 30 * SEC), T0] as [Signal, number]);
    expect(run(spo2, seq).transitions).toEqual([]);
  });

  it('raises once after 2 min below 90', () => {
    const seq = Array.from({ length: 5 }, (_, i) => [reading('59408-5', 88, T0 + i * 30 * SEC), T0] as [Signal, number]);
    const t = run(spo2, seq).transitions;
    expect(t.map((x) => x.action)).toEqual(['raise']);
    expect(t[0]).toMatchObject({ severity: 'critical', value: 88 });
  });

  it('a signal flapping between 88 and 91 for 30 min raises one alert, then only updates', () => {
    const seq = Array.from({ length: 1800 }, (_, i) => [reading('59408-5', i % 2 ? 91 : 88, T0 + i * SEC), T0] as [Signal, number]);
    const t = run(spo2, seq).transitions;
    expect(t.filter((x) => x.action === 'raise')).toHaveLength(1);
    expect(t.filter((x) => x.action === 'clear')).toHaveLength(0);
  });

  it('flapping across the clear level (88 ↔ 93 every 20 s) never holds 2 min: no alert', () => {
    const seq = Array.from({ length: 90 }, (_, i) => [reading('59408-5', i % 2 ? 93 : 88, T0 + i * 20 * SEC), T0] as [Signal, number]);
    expect(run(spo2, seq).transitions).toEqual([]);
  });

  it('a spot reading past the limit raises at the tick once forMs has passed with nothing after it (found by review: never raised)', () => {
    const tick = (quietMs: number): Signal => ({ type: 'tick', quietMs });
    // One SpO2 of 80 %, then quiet: not at once (a streaming oximeter's blip is contradicted by its next reading), at 2 min.
    expect(
      run(spo2, [
        [reading('59408-5', 80, T0), T0],
        [tick(1 * MIN), T0 + MIN],
      ]).transitions,
    ).toEqual([]);
    const spot = run(spo2, [
      [reading('59408-5', 80, T0), T0],
      [tick(2 * MIN + SEC), T0 + 2 * MIN + SEC],
    ]);
    expect(spot.transitions).toMatchObject([{ action: 'raise', severity: 'critical', value: 80 }]);
    // Readings 15 min apart, all at 80 %: raised at the first tick past 2 min, not never.
    const sparse = run(spo2, [
      [reading('59408-5', 80, T0), T0],
      [tick(30 * SEC), T0 + 30 * SEC],
      [tick(2 * MIN + 15 * SEC), T0 + 2 * MIN + 15 * SEC],
      [reading('59408-5', 80, T0 + 15 * MIN), T0 + 15 * MIN],
    ]);
    expect(sparse.transitions.map((x) => x.action)).toEqual(['raise']);
    // A blip followed by a normal reading never raises; nor does a last reading inside the band (91).
    for (const next of [96, 91])
      expect(
        run(spo2, [
          [reading('59408-5', 80, T0), T0],
          [reading('59408-5', next, T0 + 5 * SEC), T0 + 5 * SEC],
          [tick(5 * MIN), T0 + 5 * MIN],
        ]).transitions,
      ).toEqual([]);
    // Firing, then one reading back in range and quiet: cleared at the tick once clearForMs has passed.
    const back = run(spo2, [
      [reading('59408-5', 80, T0), T0],
      [tick(3 * MIN), T0 + 3 * MIN],
      [reading('59408-5', 96, T0 + 10 * MIN), T0 + 10 * MIN],
      [tick(30 * SEC), T0 + 10 * MIN + 30 * SEC],
      [tick(61 * SEC), T0 + 11 * MIN + SEC],
    ]);
    expect(back.transitions.map((x) => x.action)).toEqual(['raise', 'clear']);
  });

  it('spot measurements either side of a limit keep one alert open (sbp-low clears after 30 min back in range; found by review: 4 alerts in 8 min)', () => {
    const sbp = parseRuleDefinition(DEFAULT_RULES['sbp-low']);
    const seq = [88, 101, 88, 101, 88, 101, 88, 101].map((v, i) => [reading('8480-6', v, T0 + i * MIN), T0 + i * MIN] as [Signal, number]);
    const flapping = run(sbp, seq);
    expect(flapping.transitions.filter((x) => x.action === 'raise')).toHaveLength(1);
    expect(flapping.transitions.filter((x) => x.action === 'clear')).toHaveLength(0);
    // Back in range and nothing lower for 30 min: cleared, by the next reading or by the tick.
    const later = evaluate(flapping.state, reading('8480-6', 104, T0 + 38 * MIN), sbp, T0 + 38 * MIN);
    expect(later.transition).toMatchObject({ action: 'clear' });
    expect(evaluate(flapping.state, { type: 'tick', quietMs: 31 * MIN }, sbp, T0 + 38 * MIN).transition).toMatchObject({ action: 'clear' });
  });

  it('clears only above 92 held for clearForMs', () => {
    const low = Array.from({ length: 5 }, (_, i) => [reading('59408-5', 88, T0 + i * 30 * SEC), T0] as [Signal, number]);
    const mid = [[reading('59408-5', 92, T0 + 3 * MIN), T0]] as Array<[Signal, number]>;
    const high = [0, 30, 61].map((s) => [reading('59408-5', 95, T0 + 4 * MIN + s * SEC), T0] as [Signal, number]);
    const t = run(spo2, [...low, ...mid, ...high]).transitions;
    expect(t.map((x) => x.action)).toEqual(['raise', 'update', 'clear']); // 92 holds (update), 95 must last 1 min
  });
});

describe('NEWS2 band', () => {
  const news2 = parseRuleDefinition(DEFAULT_RULES['news2']);
  const n = (risk: string | null, minimumRisk: string, score: number | null, complete: boolean): Signal => ({
    type: 'news2',
    patientId: 'p',
    risk,
    minimumRisk,
    score,
    complete,
  });
  it('low-medium → warning, medium and high → critical (never lower as the band rises), clears when low on a complete score', () => {
    const t = run(news2, [
      [n('low-medium', 'low-medium', 3, true), T0],
      [n('medium', 'medium', 5, true), T0],
      [n('high', 'high', 8, true), T0],
      [n('low', 'low', 1, true), T0],
    ]).transitions;
    expect(t).toMatchObject([
      { action: 'raise', severity: 'warning' },
      { action: 'update', severity: 'critical' },
      { action: 'update', severity: 'critical' },
      { action: 'clear' },
    ]);
  });
  it('an incomplete lower bound may raise but never clears or downgrades', () => {
    const t = run(news2, [
      [n(null, 'high', null, false), T0],
      [n(null, 'low', null, false), T0],
      [n(null, 'medium', null, false), T0],
    ]).transitions;
    expect(t).toMatchObject([{ action: 'raise', severity: 'critical' }]);
  });
  it('a single parameter scoring 3 (low-medium, urgent ward-based response) is a warning, below medium', () => {
    expect(run(news2, [[n('low-medium', 'low-medium', 3, true), T0]]).transitions).toMatchObject([{ action: 'raise', severity: 'warning' }]);
  });
});

describe('rate of change, glucose, AF, devices', () => {
  it('weight +2 kg within 3 days fires; +1.5 does not', () => {
    const rule = parseRuleDefinition(DEFAULT_RULES['weight-gain']);
    const day = 86_400_000;
    expect(
      run(rule, [
        [reading('29463-7', 80, T0), T0],
        [reading('29463-7', 81.5, T0 + day), T0],
      ]).transitions,
    ).toEqual([]);
    expect(
      run(rule, [
        [reading('29463-7', 80, T0), T0],
        [reading('29463-7', 82.1, T0 + 2 * day), T0],
      ]).transitions,
    ).toMatchObject([{ action: 'raise' }]);
    expect(
      run(rule, [
        [reading('29463-7', 80, T0), T0],
        [reading('29463-7', 82.1, T0 + 4 * day), T0],
      ]).transitions,
    ).toEqual([]);
  });
  it('glucose: < 70 warning, < 54 critical, > 250 warning, clears in range', () => {
    const rule = parseRuleDefinition(DEFAULT_RULES['glucose']);
    const t = run(rule, [
      [reading('2339-0', 65, T0), T0],
      [reading('2339-0', 50, T0 + MIN), T0],
      [reading('2339-0', 100, T0 + 2 * MIN), T0],
      [reading('2339-0', 105, T0 + 23 * MIN), T0],
    ]).transitions;
    expect(t).toMatchObject([{ action: 'raise', severity: 'warning' }, { action: 'update', severity: 'critical' }, { action: 'clear' }]); // clears after 20 min in range
    expect(t[2]).toMatchObject({ note: 'Glucose back in range: 105 mg/dL' });
    expect(run(rule, [[reading('2339-0', 260, T0), T0]]).transitions).toMatchObject([{ action: 'raise', severity: 'warning' }]);
  });
  it('glucose: a falling trend projecting < 70 within 30 min raises a predicted low while still in range', () => {
    const rule = parseRuleDefinition(DEFAULT_RULES['glucose']);
    const seq = [130, 122, 114, 106, 98].map((v, i) => [reading('2339-0', v, T0 + i * 3 * MIN), T0] as [Signal, number]); // −2.7 mg/dL/min
    const t = run(rule, seq).transitions;
    expect(t.filter((x) => x.action === 'raise')).toHaveLength(1);
    expect(t[0]).toMatchObject({ action: 'raise', severity: 'warning' });
    expect((t[0] as { message: string }).message).toMatch(/Predicted low/);
  });
  it('CGM backfill arriving newest-first and a noisy trace near the low limit do not storm', () => {
    const rule = parseRuleDefinition(DEFAULT_RULES['glucose']);
    const noise = (i: number) => ((i * 7919) % 9) - 4; // deterministic ±4 mg/dL (CGM MARD ~9 %)
    const trace = Array.from({ length: 48 }, (_, i) => [reading('2339-0', 82 + noise(i), T0 + i * 5 * MIN), T0] as [Signal, number]);
    const backfill = [...trace].reverse();
    expect(run(rule, backfill).transitions.length).toBeLessThanOrEqual(1);
    expect(run(rule, trace).transitions.filter((x) => x.action === 'raise').length).toBeLessThanOrEqual(2);
  });

  it('AF episode start raises, end clears', () => {
    const rule = parseRuleDefinition(DEFAULT_RULES['af']);
    const t = run(rule, [
      [{ type: 'af', patientId: 'p', state: 'start' }, T0],
      [{ type: 'af', patientId: 'p', state: 'start' }, T0],
      [{ type: 'af', patientId: 'p', state: 'end' }, T0],
    ]).transitions;
    expect(t.map((x) => x.action)).toEqual(['raise', 'clear']);
  });

  it('raises a critical VF alert on the start of a VF episode, once, and resolves it on the end', () => {
    const rule = parseRuleDefinition(DEFAULT_RULES['vf']);
    const t = run(rule, [
      [{ type: 'vf', patientId: 'p', state: 'start' }, T0],
      [{ type: 'vf', patientId: 'p', state: 'start' }, T0],
      [{ type: 'vf', patientId: 'p', state: 'end' }, T0],
    ]).transitions;
    expect(t.map((x) => x.action)).toEqual(['raise', 'clear']);
    expect(t[0]).toMatchObject({ severity: 'critical' });
  });
  it('missing data: the tick raises after afterMs of silence; a reading clears', () => {
    const rule = parseRuleDefinition({ kind: 'missing-data', afterMs: 10 * MIN });
    const t = run(rule, [
      [reading('8867-4', 70, T0), T0],
      [{ type: 'tick' }, T0 + 9 * MIN],
      [{ type: 'tick' }, T0 + 11 * MIN],
      [{ type: 'tick' }, T0 + 12 * MIN],
      [reading('8867-4', 70, T0), T0 + 13 * MIN],
    ]).transitions;
    expect(t.map((x) => x.action)).toEqual(['raise', 'clear']);
  });
  it('device offline after forMs; battery low with hysteresis', () => {
    const off = parseRuleDefinition({ kind: 'device-offline', forMs: 5 * MIN });
    const dev = (online: boolean, battery?: number): Signal => ({ type: 'device', patientId: 'p', deviceId: 'd', online, battery });
    expect(
      run(off, [
        [dev(false), T0],
        [{ type: 'tick' }, T0 + 4 * MIN],
        [{ type: 'tick' }, T0 + 6 * MIN],
        [dev(true), T0 + 7 * MIN],
      ]).transitions.map((x) => x.action),
    ).toEqual(['raise', 'clear']);
    const bat = parseRuleDefinition(DEFAULT_RULES['battery-low']);
    expect(
      run(bat, [
        [dev(true, 14), T0],
        [dev(true, 20), T0],
        [dev(true, 13), T0],
        [dev(true, 30), T0],
      ]).transitions.map((x) => x.action),
    ).toEqual(['raise', 'clear']);
  });
});

describe('rule validation', () => {
  it('rejects a threshold whose clear level is on the wrong side', () => {
    expect(() => parseRuleDefinition({ kind: 'threshold', code: '59408-5', op: 'below', value: 90, clearAt: 85 })).toThrow(/hysteresis/);
  });
  it('rejects an unknown kind', () => {
    expect(() => parseRuleDefinition({ kind: 'vibes' })).toThrow();
  });
});

describe('delivery helpers', () => {
  it('quiet hours never silence critical', () => {
    const prefs = { ...DEFAULT_PREFERENCES, quietHours: { start: '00:00', end: '23:59', timeZone: 'UTC' } };
    expect(shouldNotify(prefs, 'warning', 'email', T0)).toBe(false);
    expect(shouldNotify(prefs, 'critical', 'email', T0)).toBe(true);
  });
  it('backoff doubles up to the cap', () => {
    expect([1, 2, 3, 10].map((a) => backoffMs(a, 1000, 5000, () => 0.5))).toEqual([1000, 2000, 4000, 5000]);
  });
  it('webhook signature is HMAC-SHA256 over "t.body"', () => {
    const mac = createHmac('sha256', '0123456789abcdef').update('1700000000.{}').digest('hex');
    expect(signWebhook('0123456789abcdef', '{}', 1700000000)).toBe(`t=1700000000,v1=${mac}`);
  });
});
