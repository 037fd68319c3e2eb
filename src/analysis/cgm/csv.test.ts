import { describe, expect, it } from 'vitest';
import { CgmCsvError, parseCgmCsv, parseTimestamp, toCgmCsv } from './csv.ts';
import { agpProfile } from './agp.ts';

const T = Date.parse('2026-01-05T08:00:00Z');

describe('CGM CSV', () => {
  it('reads the documented header and rows', () => {
    const p = parseCgmCsv('timestamp,glucose_mg_dl\n2026-01-05T08:00:00Z,120\n2026-01-05T08:05:00Z,125\n');
    expect(p).toEqual({
      unit: 'mg/dL',
      utcOffsetMinutes: 0,
      readings: [
        { ts: T, mgdl: 120, offsetMinutes: 0 },
        { ts: T + 300_000, mgdl: 125, offsetMinutes: 0 },
      ],
    });
  });

  it('reads a headerless file as mg/dL, with space-separated and epoch timestamps', () => {
    const p = parseCgmCsv(`2026-01-05 08:00,120\n${(T + 300_000) / 1000},130\n${T + 600_000},140`);
    expect(p.readings.map((r) => r.ts)).toEqual([T, T + 300_000, T + 600_000]);
  });

  it('converts mmol/L only when the header says so (× 18)', () => {
    const p = parseCgmCsv('timestamp,glucose_mmol_l\n2026-01-05T08:00:00Z,5.5\n');
    expect(p.unit).toBe('mmol/L');
    expect(p.readings[0].mgdl).toBe(99);
  });

  it('keeps the local offset from the timestamps', () => {
    const p = parseCgmCsv('timestamp,glucose_mg_dl\n2026-01-05T09:00:00+01:00,100\n');
    expect(p).toMatchObject({ utcOffsetMinutes: 60, readings: [{ ts: T, mgdl: 100 }] });
    expect(parseTimestamp('2026-01-05T03:00:00-0500')).toEqual({ ts: T, offsetMinutes: -300 });
  });

  it('maps the sensor Low/High flags to 40 and 400 mg/dL', () => {
    const p = parseCgmCsv('2026-01-05T08:00:00Z,Low\n2026-01-05T08:05:00Z,HI\n');
    expect(p.readings.map((r) => r.mgdl)).toEqual([40, 400]);
  });

  it('names the line of a bad row', () => {
    expect(() => parseCgmCsv('timestamp,glucose_mg_dl\n2026-01-05T08:00:00Z,120\n2026-01-05T08:05:00Z,abc\n')).toThrow(
      new CgmCsvError('bad glucose value "abc"', 3),
    );
    expect(() => parseCgmCsv('timestamp,glucose_mg_dl\nyesterday,120\n')).toThrow('line 2: bad timestamp "yesterday"');
    expect(() => parseCgmCsv('')).toThrow(CgmCsvError);
  });

  it('converts 13.9 mmol/L to 250 mg/dL (level 1, as the consensus puts it), not 250.2 (level 2)', () => {
    expect(parseCgmCsv('timestamp,glucose_mmol_l\n2026-01-05T08:00:00Z,13.9\n2026-01-05T08:05:00Z,3.9\n').readings.map((r) => r.mgdl)).toEqual([250, 70]);
  });

  it('refuses a local time without an offset repeated with another value (the hour the clocks went back), naming the line', () => {
    const text = 'timestamp,glucose_mg_dl\n2026-10-25 02:30,120\n2026-10-25 02:35,118\n2026-10-25 02:30,60\n';
    expect(() => parseCgmCsv(text)).toThrow(/line 4: the time 2026-10-25 02:30 appears twice with different values/);
    // With offsets the two are two instants, both kept.
    const p = parseCgmCsv('timestamp,glucose_mg_dl\n2026-10-25T02:30:00+02:00,120\n2026-10-25T02:30:00+01:00,60\n');
    expect(p.readings).toHaveLength(2);
  });

  it('keeps the offset of each reading, so a daylight-saving change does not move the AGP by an hour (found by review)', () => {
    // 08:00 local on both sides of the European spring change (+01:00, then +02:00): 250 at 08:00 local each day.
    const rows = ['2026-03-28T08:00:00+01:00,250', '2026-03-28T12:00:00+01:00,100', '2026-03-30T08:00:00+02:00,250', '2026-03-30T12:00:00+02:00,100'];
    const p = parseCgmCsv(`timestamp,glucose_mg_dl\n${rows.join('\n')}\n`);
    expect(p.readings.map((r) => r.offsetMinutes)).toEqual([60, 60, 120, 120]);
    const agp = agpProfile(p.readings, { utcOffsetMinutes: p.utcOffsetMinutes });
    expect(agp.find((x) => x.minute === 8 * 60)!.n).toBe(2); // both 08:00 readings at 08:00
    expect(agp.find((x) => x.minute === 7 * 60)!.n).toBe(0); // none moved to 07:00 by the period's first offset
  });

  it('round-trips toCgmCsv', () => {
    const readings = [
      { ts: T, mgdl: 101 },
      { ts: T + 300_000, mgdl: 99 },
    ];
    expect(toCgmCsv(readings)).toBe('timestamp,glucose_mg_dl\n2026-01-05T08:00:00Z,101\n2026-01-05T08:05:00Z,99\n');
    expect(parseCgmCsv(toCgmCsv(readings)).readings).toEqual(readings.map((r) => ({ ...r, offsetMinutes: 0 })));
  });
});
