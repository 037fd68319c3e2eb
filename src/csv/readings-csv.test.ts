import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { detectDelimiter, parseReadingsCsv, type CsvOptions } from './readings-csv.ts';
import { parseTimestamp } from './timestamps.ts';

async function parseAll(text: string, opts: Partial<CsvOptions> = {}) {
  const out = { readings: [] as any[], rejections: [] as any[], layout: undefined as any };
  const delimiter = opts.delimiter ?? detectDelimiter(text.split('\n')[0]);
  for await (const b of parseReadingsCsv(Readable.from([Buffer.from(text)]), {
    tz: 'UTC',
    ...opts,
    delimiter,
    onLayout: (l) => (out.layout = l),
    batchSize: 2,
  })) {
    out.readings.push(...b.readings);
    out.rejections.push(...b.rejections);
  }
  return out;
}

describe('reading CSV files', () => {
  it('reads a long file with a BOM, semicolons, decimal commas, quoted fields and units to convert', async () => {
    const text =
      '\uFEFFTimestamp;Patient;Code;Value;Unit\r\n' +
      '2026-11-24T10:00:00Z;MRN-1;temp;"98,6";°F\r\n' +
      '2026-11-24T10:00:00Z;MRN-1;29463-7;154,32;lb\r\n' +
      '2026-11-24T10:05:00+01:00;MRN-1;glucose;5,5;mmol/L\r\n' +
      '"2026-11-24 10:10";"MRN-1";hr;72;bpm\r\n';
    const r = await parseAll(text);
    expect(r.layout.format).toBe('long');
    expect(r.rejections).toEqual([]);
    expect(r.readings.map((x) => [x.code, x.value, x.unit, new Date(x.ts).toISOString(), x.line])).toEqual([
      ['8310-5', 37, 'Cel', '2026-11-24T10:00:00.000Z', 2],
      ['29463-7', 69.998375, 'kg', '2026-11-24T10:00:00.000Z', 3],
      ['2339-0', 99, 'mg/dL', '2026-11-24T09:05:00.000Z', 4],
      ['8867-4', 72, '/min', '2026-11-24T10:10:00.000Z', 5],
    ]);
  });

  it('reads a wide file mapped by name, with units in headers, local times and a row with one bad cell', async () => {
    const text =
      'Date,MRN,pulse,SpO2,weight (lb),notes\n' +
      '24.11.2026 08:00,A1,71,97,150,"fine, thanks"\n' +
      '24.11.2026 09:00,A1,abc,98,,\n' +
      '31.02.2026 09:00,A1,70,97,,\n';
    const r = await parseAll(text, { map: { hr: 'pulse', timestamp: 'Date', patient: 'MRN' }, tz: 'Europe/Berlin' });
    expect(r.layout).toMatchObject({ format: 'wide', ignored: ['notes'] });
    expect(r.readings.map((x) => [x.line, x.code, x.value, new Date(x.ts).toISOString()])).toEqual([
      [2, '8867-4', 71, '2026-11-24T07:00:00.000Z'],
      [2, '59408-5', 97, '2026-11-24T07:00:00.000Z'],
      [2, '29463-7', 68.038856, '2026-11-24T07:00:00.000Z'],
      [3, '59408-5', 98, '2026-11-24T08:00:00.000Z'],
    ]);
    expect(r.rejections.map((x) => [x.line, x.reason])).toEqual([
      [3, 'hr: value "abc" is not a number'],
      [4, 'timestamp: "31.02.2026 09:00" is not a real date (read as day/month/year; see --date-order)'],
    ]);
    expect(r.rejections[0].raw).toBe('24.11.2026 09:00,A1,abc,98,,');
  });

  it('rejects impossible values, unknown codes and units, each with its line', async () => {
    const r = await parseAll(
      'time,patient,code,value,unit\n2026-11-24T10:00:00Z,p,spo2,140,%\n2026-11-24T10:00:00Z,p,xyz,1,\n2026-11-24T10:00:00Z,p,hr,60,furlongs\n2026-11-24T10:00:00Z,,hr,60,\n',
    );
    expect(r.readings).toEqual([]);
    expect(r.rejections.map((x) => [x.line, x.reason.split(' (')[0]])).toEqual([
      [2, 'spo2: 140 % is outside the possible range 0–100'],
      [3, 'code "xyz" is not a reading Vigil knows'],
      [4, 'hr: unit "furlongs" is not known for Heart rate'],
      [5, 'patient is empty'],
    ]);
  });

  it('refuses a file it cannot lay out, naming what is missing', async () => {
    await expect(parseAll('when,who,what\n1,2,3\n')).rejects.toThrow(/no patient column|no readings found/);
    await expect(parseAll('patient,hr\np,60\n')).rejects.toThrow(/no timestamp column/);
    await expect(parseAll('timestamp,patient,hr\n', { map: { spo2: 'nope' } })).rejects.toThrow(/no column "nope"/);
  });

  it('reads timestamps in a zone across DST, and US order on request', () => {
    expect(new Date(parseTimestamp('2026-03-29 03:30', 'Europe/Berlin') as number).toISOString()).toBe('2026-03-29T01:30:00.000Z');
    expect(new Date(parseTimestamp('2026-07-01 12:00', 'America/New_York') as number).toISOString()).toBe('2026-07-01T16:00:00.000Z');
    expect(new Date(parseTimestamp('11/24/2026 10:00', 'UTC', 'mdy') as number).toISOString()).toBe('2026-11-24T10:00:00.000Z');
    expect(parseTimestamp('1764000000000', 'UTC')).toBe(1764000000000);
    expect(parseTimestamp('yesterday', 'UTC')).toMatch(/not a timestamp/);
  });
});
