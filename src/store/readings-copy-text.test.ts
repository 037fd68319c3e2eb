import { describe, expect, it } from 'vitest';
import { copyText, ingestCopyText } from './readings-copy-text.ts';
import type { NewReading } from './readings.repository.ts';
import { isoFormatter } from '../platform/iso-time.ts';

describe('COPY text of readings', () => {
  it('formats instants exactly as toISOString does, across days, before 1970, far years and fractions of a ms', () => {
    const iso = isoFormatter();
    const instants = [0, -1, 1, 86_399_999, 86_400_000, -86_400_001, 951_782_400_000 /* 2000-02-29 */, 8.64e15, -8.64e15, 1.5, -0.5, 1_735_689_599_999];
    // A deterministic spread over 1900–2100 (a linear congruential sequence, not Math.random: the test repeats).
    let x = 12345;
    for (let i = 0; i < 5000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      instants.push(-2_208_988_800_000 + Math.floor((x / 2 ** 31) * 6_311_390_400_000));
    }
    for (const t of instants) expect(iso(t)).toBe(new Date(t).toISOString());
  });

  it('quotes text (doubling quotes), leaves NULLs empty, and writes one line per reading', () => {
    const text = copyText([
      { patientId: 'pat_1', deviceId: null, code: '8867-4', value: 72, unit: '/min', ts: Date.UTC(2026, 0, 2, 3, 4, 5, 6), seq: null },
      {
        patientId: 'p"q',
        deviceId: 'dev,1',
        system: 'http://snomed.info/sct',
        code: '1104051000000101',
        value: 36.6,
        unit: '{score}',
        ts: Date.UTC(2026, 0, 2),
        seq: 7,
        commandId: 'cmd-1',
        method: { name: 'news2', version: '1.0' },
      },
    ]).toString('utf8');
    expect(text).toBe(
      '"pat_1",,"http://loinc.org","8867-4",72,"/min",2026-01-02T03:04:05.006Z,,,\n' +
        '"p""q","dev,1","http://snomed.info/sct","1104051000000101",36.6,"{score}",2026-01-02T00:00:00.000Z,7,"cmd-1","{""name"":""news2"",""version"":""1.0""}"\n',
    );
  });

  it('grows its buffer for long and non-ASCII text', () => {
    const rows = Array.from({ length: 200 }, (_, i) => ({
      patientId: 'Ärztin-' + 'x'.repeat(i * 10),
      deviceId: null,
      code: '8867-4',
      value: i,
      unit: '/min',
      ts: i * 1000,
      seq: null,
    }));
    const lines = copyText(rows).toString('utf8').split('\n');
    expect(lines).toHaveLength(201);
    expect(lines[199]).toBe(`"Ärztin-${'x'.repeat(1990)}",,"http://loinc.org","8867-4",199,"/min",1970-01-01T00:03:19.000Z,,,`);
  });
});

describe('COPY text of ingested readings', () => {
  // The same lines built the plain way, one string per reading (what ingestCopyText writes without them).
  const quote = (v: string | null | undefined) => (v == null ? '' : '"' + v.replaceAll('"', '""') + '"');
  const plain = (rows: NewReading[], firstId?: number) =>
    rows
      .map(
        (r, i) =>
          `${firstId === undefined ? '' : `${firstId + i},`}${quote(r.patientId)},${quote(r.deviceId)},${quote(r.system ?? 'http://loinc.org')},` +
          `${new Date(r.ts).toISOString()},${r.seq ?? ''},${quote(r.commandId)},${quote(r.code)},${r.value},${quote(r.unit)},` +
          `${r.method ? quote(JSON.stringify(r.method)) : ''}\n`,
      )
      .join('');
  const t = Date.UTC(2026, 11, 3, 18, 0, 0, 5);
  const vital = (over: Partial<NewReading>): NewReading => ({
    patientId: 'pat_1',
    deviceId: 'dev_1',
    code: '8867-4',
    value: 72,
    unit: '/min',
    ts: t,
    seq: 9,
    ...over,
  });

  it('writes each message envelope once and copies it to its other readings, exactly as the plain lines', () => {
    const rows = [
      vital({}),
      vital({ code: '59408-5', value: 97.5, unit: '%' }),
      vital({ code: '8310-5', value: -0, unit: 'Cel' }),
      vital({ seq: 10, value: 123456789012345 }), // next message: same time, new seq
      vital({ seq: null, deviceId: null, commandId: 'cmd "1"', value: -3 }),
      vital({ seq: null, deviceId: '', ts: t + 0.5, value: 1e21 }),
      vital({ patientId: 'Ärztin "x"', system: 'http://snomed.info/sct', method: { name: 'news2', version: '1.0' }, value: 0.1 + 0.2 }),
      ...Array.from({ length: 400 }, (_, i) => vital({ deviceId: 'dev-' + 'y'.repeat(i), seq: i, value: i })),
    ];
    expect(ingestCopyText(rows).toString('utf8')).toBe(plain(rows));
    expect(ingestCopyText(rows, 1_000_000).toString('utf8')).toBe(plain(rows, 1_000_000));
    expect(ingestCopyText([]).length).toBe(0);
  });
});
