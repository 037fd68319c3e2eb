import { describe, expect, it } from 'vitest';
import { decodeEcg, decodeStatus, decodeTelemetry, decodeTelemetryAs, parseDeviceTopic, topicBelongsTo } from './decode.ts';
import { storable } from '../store/readings.repository.ts';

const NOW = Date.parse('2026-11-24T10:00:00Z');

describe('decodeTelemetry', () => {
  it('refuses, with a reason and without throwing, timestamps outside the JavaScript date range (F9)', () => {
    for (const [ts, re] of [
      [1e300, /ts 1e\+300 is in the future/],
      [-1e300, /ts -1e\+300 is before 2000/],
      [8.64e15 + 1, /in the future/],
      [-8.64e15 - 1, /before 2000/],
    ] as const) {
      expect(decodeTelemetry(JSON.stringify({ ts, hr: 70 }), NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(re) });
      expect(decodeEcg(JSON.stringify({ ts, fs: 250, samples: [1] }), NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(re) });
    }
    const perItem = decodeTelemetry(
      JSON.stringify({
        readings: [
          { code: '8867-4', value: 70, ts: 1e300 },
          { code: '8867-4', value: 71 },
        ],
      }),
      NOW,
    );
    expect(perItem).toMatchObject({
      ok: true,
      value: { readings: [{ value: 71 }], rejected: [expect.stringMatching(/readings\[0\]: ts 1e\+300 is in the future/)] },
    });
  });

  it('refuses what PostgreSQL text cannot hold: NUL and control characters in the command id or lead, over-long ids', () => {
    expect(decodeTelemetry('{"seq": 900, "hr": 71, "command": "\\u0000"}', NOW)).toMatchObject({
      ok: false,
      reason: 'command contains a NUL or control character',
    });
    expect(decodeTelemetry(JSON.stringify({ hr: 71, command: 'x'.repeat(129) }), NOW)).toMatchObject({
      ok: false,
      reason: 'command is longer than 128 characters',
    });
    expect(decodeEcg(JSON.stringify({ fs: 250, lead: 'I\u0000', samples: [1] }), NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(/^lead/) });
    // Reasons quote what they refuse as JSON, so they never carry a raw NUL into the rejections table.
    const d = decodeTelemetry(JSON.stringify({ 'a\u0000b': 1, readings: [{ code: 'x\u0000', value: 1 }] }), NOW);
    if (d.ok) expect(d.value.rejected.join('')).not.toContain('\u0000');
    else expect(d.reason).not.toContain('\u0000');
  });

  it("refuses a unit named after Object's own properties instead of throwing (fuzz: '__proto__' dropped the device)", () => {
    const now = Date.parse('2026-11-24T10:00:00Z');
    for (const unit of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const d = decodeTelemetry(
        JSON.stringify({
          readings: [
            { code: '8867-4', value: 0, unit },
            { code: '8867-4', value: 70 },
          ],
        }),
        now,
      );
      expect(d.ok, unit).toBe(true);
      if (!d.ok) continue;
      expect(d.value.readings.map((r) => r.value)).toEqual([70]);
      expect(d.value.rejected).toEqual([expect.stringContaining(`unit "${unit}" is not accepted for Heart rate`)]);
    }
  });

  it('decodes the full form with LOINC codes and UCUM units', () => {
    const d = decodeTelemetry(JSON.stringify({ ts: '2026-11-24T09:59:00Z', seq: 7, readings: [{ code: '8867-4', value: 72, unit: '/min' }] }), NOW);
    expect(d).toEqual({
      ok: true,
      value: { seq: 7, commandId: null, rejected: [], readings: [{ code: '8867-4', value: 72, unit: '/min', ts: NOW - 60_000 }] },
    });
  });

  it('decodes the shorthand form into LOINC codes, defaulting ts to the receive time', () => {
    const d = decodeTelemetry('{"hr":72,"spo2":97,"sbp":128,"dbp":82,"temp":36.8,"glucose":110,"weight":80.5,"steps":1200,"rr":14}', NOW);
    if (!d.ok) throw new Error(d.reason);
    expect(d.value.readings.map((r) => r.code).sort()).toEqual(
      ['2339-0', '29463-7', '55423-8', '59408-5', '8310-5', '8462-4', '8480-6', '8867-4', '9279-1'].sort(),
    );
    expect(d.value.readings.every((r) => r.ts === NOW)).toBe(true);
    expect(d.value.readings.find((r) => r.code === '8480-6')?.unit).toBe('mm[Hg]');
  });

  it('accepts epoch-ms timestamps and converts known non-canonical units', () => {
    const d = decodeTelemetry(JSON.stringify({ ts: NOW - 1000, readings: [{ code: '2339-0', value: 5.5, unit: 'mmol/L' }] }), NOW);
    if (!d.ok) throw new Error(d.reason);
    expect(d.value.readings[0]).toEqual({ code: '2339-0', value: 99, unit: 'mg/dL', ts: NOW - 1000 });
  });

  it('refuses an out-of-range value and an unknown key but keeps the rest of the message', () => {
    const d = decodeTelemetry('{"spo2":140,"hr":-5,"pulse":70,"temp":36.9}', NOW);
    if (!d.ok) throw new Error(d.reason);
    expect(d.value.readings).toEqual([{ code: '8310-5', value: 36.9, unit: 'Cel', ts: NOW }]);
    expect(d.value.rejected).toHaveLength(3);
    expect(d.value.rejected.join(' ')).toMatch(/spo2: 140 is outside the physical range 0–100 %/);
    expect(d.value.rejected.join(' ')).toMatch(/unknown key "pulse"/);
  });

  it('rejects malformed JSON, a bad ts and a bad seq with a reason', () => {
    expect(decodeTelemetry('{"hr": 7', NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(/^malformed JSON/) });
    expect(decodeTelemetry('{"ts": 1700000, "hr": 70}', NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(/before 2000/) });
    expect(decodeTelemetry('{"seq": -1, "hr": 70}', NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(/seq/) });
    expect(decodeTelemetry('[1,2]', NOW)).toMatchObject({ ok: false });
    expect(decodeTelemetry('{}', NOW)).toMatchObject({ ok: false, reason: 'no readings in the message' });
  });

  it('carries the command id a measurement answers', () => {
    const d = decodeTelemetry('{"command":"cmd_1","temp":37.2}', NOW);
    expect(d.ok && d.value.commandId).toBe('cmd_1');
  });
});

describe('decodeEcg', () => {
  it('decodes a chunk', () => {
    const d = decodeEcg(JSON.stringify({ ts: NOW, seq: 1, fs: 250, lead: 'II', unit: 'uV', samples: [1, 2, -3] }), NOW);
    expect(d).toEqual({ ok: true, value: { ts: NOW, seq: 1, fs: 250, lead: 'II', unit: 'uV', samples: [1, 2, -3] } });
  });
  it('refuses non-integer samples and an implausible fs', () => {
    expect(decodeEcg('{"fs":250,"samples":[1,"x"]}', NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(/samples\[1\]/) });
    expect(decodeEcg('{"fs":5,"samples":[1]}', NOW)).toMatchObject({ ok: false, reason: expect.stringMatching(/^fs/) });
  });
});

describe('decodeStatus', () => {
  it('reads online and battery', () => {
    expect(decodeStatus('{"online":true,"battery":87}')).toEqual({ ok: true, value: { online: true, battery: 87 } });
    expect(decodeStatus('{"online":"yes"}')).toMatchObject({ ok: false });
  });
});

describe('topics', () => {
  it('parses device topics', () => {
    expect(parseDeviceTopic('vigil/v1/devices/dev_1/telemetry')).toEqual({ deviceId: 'dev_1', kind: 'telemetry' });
    expect(parseDeviceTopic('vigil/v1/devices/dev_1/commands/c1/result')).toEqual({ deviceId: 'dev_1', kind: 'command-result', commandId: 'c1' });
    expect(parseDeviceTopic('vigil/v1/devices/dev_1/other')).toBeNull();
  });
  it('reads every topic as splitting it on / would', () => {
    const bySplit = (topic: string) => {
      if (!topic.startsWith('vigil/v1/devices/')) return null;
      const parts = topic.slice('vigil/v1/devices/'.length).split('/');
      if (!parts[0]) return null;
      if (parts.length === 2 && (parts[1] === 'telemetry' || parts[1] === 'ecg' || parts[1] === 'status')) return { deviceId: parts[0], kind: parts[1] };
      if (parts.length === 4 && parts[1] === 'commands' && parts[3] === 'result' && parts[2])
        return { deviceId: parts[0], kind: 'command-result', commandId: parts[2] };
      return null;
    };
    const tails = [
      'telemetry',
      'ecg',
      'status',
      'telemetryx',
      'telemetr',
      'telemetry/',
      'ecg/x',
      '',
      'commands/c1/result',
      'commands//result',
      'commands/c1/result/x',
      'commands/c1',
    ];
    for (const device of ['dev_1', '', 'd', 'Ärztin']) {
      for (const tail of tails) {
        const topic = `vigil/v1/devices/${device}/${tail}`;
        expect(parseDeviceTopic(topic), topic).toEqual(bySplit(topic));
      }
      expect(parseDeviceTopic(`vigil/v1/devices/${device}`)).toEqual(bySplit(`vigil/v1/devices/${device}`));
    }
    expect(parseDeviceTopic('vigil/v2/devices/dev_1/telemetry')).toBeNull();
  });
  it('confines a device to its own subtree', () => {
    expect(topicBelongsTo('vigil/v1/devices/dev_1/telemetry', 'dev_1')).toBe(true);
    expect(topicBelongsTo('vigil/v1/devices/dev_1/#', 'dev_1')).toBe(true);
    expect(topicBelongsTo('vigil/v1/devices/dev_2/telemetry', 'dev_1')).toBe(false);
    expect(topicBelongsTo('vigil/v1/devices/#', 'dev_1')).toBe(false);
    expect(topicBelongsTo('vigil/v1/devices/dev_10/telemetry', 'dev_1')).toBe(false);
    expect(topicBelongsTo('vigil/v1/devices/+/telemetry', '+')).toBe(false);
  });
});

describe('telemetry the store must not take', () => {
  const now = Date.parse('2026-11-24T10:00:00Z');
  it('refuses a time that is not a day on the calendar instead of rolling it into the next month', () => {
    for (const ts of ['2026-02-30T00:00:00Z', '2026-11-31T08:00:00Z', '2026-02-29T08:00:00Z']) {
      const d = decodeTelemetry(JSON.stringify({ ts, hr: 70 }), now);
      expect(d).toEqual({ ok: false, reason: `ts ${JSON.stringify(ts)} is not a day on the calendar` });
    }
    expect(decodeTelemetry(JSON.stringify({ ts: '2024-02-29T08:00:00Z', hr: 70 }), now).ok).toBe(true);
  });
  it('refuses a message of more than 500 readings whole, with a reason (every transport decodes here)', () => {
    const readings = Array.from({ length: 501 }, () => ({ code: '8867-4', value: 70 }));
    expect(decodeTelemetry(JSON.stringify({ readings }), now)).toEqual({
      ok: false,
      reason: 'a telemetry message carries at most 500 readings (this one 501): send them in several',
    });
    expect(decodeTelemetry(JSON.stringify({ readings: readings.slice(0, 500) }), now).ok).toBe(true);
  });
});

describe('decodeTelemetryAs (the ingest path: readings made in their stored shape)', () => {
  const payloads = [
    { ts: NOW - 1000, seq: 7, hr: 72, spo2: 97, rr: 15, temp: 36.8, sbp: 121, dbp: 79 },
    { seq: 8, command: 'cmd_1', hr: 250, spo2: 'x', bogus: 1, readings: [{ code: '8867-4', value: 60, ts: NOW - 5 }, { code: 'nope', value: 1 }, null] },
    { readings: [{ code: '8310-5', value: 98.6, unit: '[degF]' }] },
  ];

  it('accepts and refuses exactly what decodeTelemetry does, with the same reasons, times and canonical values', () => {
    for (const p of payloads) {
      const plain = decodeTelemetry(JSON.stringify(p), NOW);
      const stored = decodeTelemetryAs(Buffer.from(JSON.stringify(p)), NOW, undefined, storable, 'pat_1', 'dev_1');
      expect(stored.ok).toBe(plain.ok);
      if (!plain.ok || !stored.ok) continue;
      expect(stored.value.rejected).toEqual(plain.value.rejected);
      expect(stored.value.readings).toEqual(
        plain.value.readings.map((r) => storable('pat_1', 'dev_1', r.code, r.value, r.unit, r.ts, plain.value.seq, plain.value.commandId)),
      );
    }
  });

  it('refuses the same whole messages (malformed, NUL in the command, too many readings) with the same reasons', () => {
    const many = Object.fromEntries(Array.from({ length: 501 }, (_, i) => [`k${i}`, 1]));
    for (const raw of ['{"hr": 7', '[1]', 'null', JSON.stringify({ command: '\u0000', hr: 70 }), JSON.stringify(many), JSON.stringify({})]) {
      const plain = decodeTelemetry(raw, NOW);
      expect(plain.ok).toBe(false);
      expect(decodeTelemetryAs(raw, NOW, undefined, storable, 'p', 'd')).toEqual(plain);
    }
  });

  it('gives a message with nothing refused one shared empty list, which nobody can add to', () => {
    const a = decodeTelemetry(JSON.stringify({ hr: 70 }), NOW);
    const b = decodeTelemetry(JSON.stringify({ spo2: 97 }), NOW);
    if (!a.ok || !b.ok) throw new Error('expected both decoded');
    expect(a.value.rejected).toEqual([]);
    expect(a.value.rejected).toBe(b.value.rejected);
    expect(() => a.value.rejected.push('x')).toThrow(TypeError);
  });
});
