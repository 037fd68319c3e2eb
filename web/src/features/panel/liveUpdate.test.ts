import { describe, expect, it } from 'vitest';
import type { LiveServerMessage } from '@contracts';
import type { PanelPatient } from '../../api/views.ts';
import { applyToPanel, applyToPatient } from './liveUpdate.ts';

const T0 = Date.parse('2026-11-30T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function patient(id: string, over: Partial<PanelPatient> = {}): PanelPatient {
  return {
    id,
    name: `Patient ${id}`,
    birthDate: null,
    age: null,
    status: 'ok',
    openAlerts: 0,
    news2: null,
    latest: { '8867-4': { value: 70, unit: '/min', ts: iso(T0) } },
    devices: [
      {
        id: `dev-${id}`,
        patientId: id,
        type: 'multi',
        name: null,
        online: false,
        battery: 50,
        lastSeenAt: T0 - 60_000,
        rejectedCount: 0,
        createdAt: T0 - 86_400_000,
      },
    ],
    ...over,
  };
}

const readings = (patientId: string, ...rs: Array<[code: string, value: number, ts: number]>): LiveServerMessage => ({
  type: 'readings',
  patientId,
  readings: rs.map(([code, value, ts]) => ({ code, value, unit: '/min', ts: iso(ts), deviceId: `dev-${patientId}` })),
});

describe('panel live reducers (web/src/features/panel/liveUpdate.ts)', () => {
  it('a newer reading replaces latest; other patients are left as they were (same objects)', () => {
    const list = [patient('a'), patient('b')];
    const next = applyToPanel(list, readings('a', ['8867-4', 95, T0 + 5_000], ['59408-5', 97, T0 + 5_000]));
    expect(next).not.toBe(list);
    expect(next[0].latest['8867-4']).toEqual({ value: 95, unit: '/min', ts: iso(T0 + 5_000) });
    expect(next[0].latest['59408-5'].value).toBe(97);
    expect(next[1]).toBe(list[1]);
    expect(list[0].latest['8867-4'].value).toBe(70); // pure: the input is not mutated
  });

  it('a late batch never rolls a value back, and an unchanged patient keeps its identity', () => {
    const list = [patient('a')];
    const next = applyToPanel(list, readings('a', ['8867-4', 40, T0 - 10_000]));
    expect(next).toBe(list);
    expect(next[0].latest['8867-4'].value).toBe(70);
  });

  it('ignores messages for patients not on the panel, and alert messages (the panel re-fetches for those)', () => {
    const list = [patient('a')];
    expect(applyToPanel(list, readings('zzz', ['8867-4', 99, T0 + 1]))).toBe(list);
    const alert = { type: 'alert', event: 'opened', patientId: 'a', alert: {} } as unknown as LiveServerMessage;
    expect(applyToPanel(list, alert)).toBe(list);
    expect(applyToPanel(list, { type: 'pong' })).toBe(list);
  });

  it('NEWS2: an incomplete set shows its lower bound, marked incomplete; a complete one its score', () => {
    const partial = applyToPatient(patient('a'), {
      type: 'news2',
      patientId: 'a',
      score: null,
      partialScore: 4,
      risk: null,
      minimumRisk: 'low-medium',
      complete: false,
      components: { pulse: 3, spo2: 1 },
    });
    expect(partial.news2).toEqual({ score: 4, risk: 'low-medium', complete: false });
    const full = applyToPatient(partial, {
      type: 'news2',
      patientId: 'a',
      score: 7,
      partialScore: 7,
      risk: 'high',
      minimumRisk: 'high',
      complete: true,
      components: {},
    });
    expect(full.news2).toEqual({ score: 7, risk: 'high', complete: true });
  });

  it('device status: online, battery, and the ISO lastSeenAt of the wire becomes epoch ms like the REST shape', () => {
    const p = applyToPatient(patient('a'), { type: 'device', deviceId: 'dev-a', patientId: 'a', online: true, battery: null, lastSeenAt: iso(T0 + 30_000) });
    expect(p.devices[0]).toMatchObject({ online: true, battery: 50, lastSeenAt: T0 + 30_000 });
    const other = applyToPatient(patient('a'), { type: 'device', deviceId: 'dev-other', patientId: 'a', online: true, battery: 10, lastSeenAt: iso(T0) });
    expect(other.devices[0]).toMatchObject({ online: false, battery: 50 });
  });
});
