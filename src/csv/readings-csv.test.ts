import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_RECORD_CHARS, chunksByLine, detectDelimiter, parseReadingsCsv, rowsAt, type CsvOptions } from './readings-csv.ts';
import { parseTimestamp, zonedToUtc } from './timestamps.ts';

async function parseAll(text: string, opts: Partial<CsvOptions> = {}) {
  const out = { readings: [] as any[], rejections: [] as any[], layout: undefined as any, rows: 0, emptyRows: 0 };
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
    out.rows = b.rows;
    out.emptyRows = b.emptyRows;
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

  it('converts any UCUM unit of the right kind, with the spellings spreadsheets use (st is stone, not the stere)', async () => {
    const r = await parseAll(
      'time,patient,code,value,unit\n' +
        '2026-11-24T10:00:00Z,p,weight,11,st\n' +
        '2026-11-24T10:00:00Z,p,weight,2500,[oz_av]\n' +
        '2026-11-24T10:00:00Z,p,sbp,16,kPa\n' +
        '2026-11-24T10:00:00Z,p,temp,310.15,K\n' +
        '2026-11-24T10:00:00Z,p,glucose,1.1,g/l\n' +
        '2026-11-24T10:00:00Z,p,hr,60,mm[Hg]\n',
    );
    expect(r.readings.map((x) => [x.code, x.value])).toEqual([
      ['29463-7', 69.853225],
      ['29463-7', 70.873808],
      ['8480-6', 120.010201],
      ['8310-5', 37],
      ['2339-0', 110],
    ]);
    expect(r.rejections.map((x) => [x.line, x.reason.split(' (')[0]])).toEqual([[7, 'hr: unit "mm[Hg]" is not known for Heart rate']]);
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

  it("sends a row's readings in one chunk (its systolic and diastolic make one panel only when stored together)", () => {
    const readings = [1, 1, 2, 2, 3, 3, 3, 4].map((line, i) => ({ line, i }));
    const chunks = [...chunksByLine(readings, 3)].map((c) => c.map((r) => r.line));
    expect(chunks).toEqual([[1, 1, 2, 2], [3, 3, 3], [4]]);
    expect(chunks.flat()).toEqual(readings.map((r) => r.line));
  });

  it('refuses a row with a stray quote in a value (7"3) and reads the rows around it, instead of stopping the import', async () => {
    const r = await parseAll('time,patient,hr\n2026-11-24T10:00:00Z,p,70\n2026-11-24T10:01:00Z,p,7"3\n2026-11-24T10:02:00Z,p,72\n');
    expect(r.readings.map((x) => x.value)).toEqual([70, 72]);
    expect(r.rejections.map((x) => [x.line, x.reason])).toEqual([[3, 'hr: value "7"3" is not a number']]);
  });

  it('reports the lines a quote left open swallowed, as one rejected span counted as those rows, and reads on after it', async () => {
    // Before: lines 3–6 became one row refused as "not a number", and the summary counted 3 rows for 6.
    const r = await parseAll(
      'time,patient,hr\n2026-11-24T10:00:00Z,p,70\n2026-11-24T10:01:00Z,p,"71\n2026-11-24T10:02:00Z,p,72\r\n2026-11-24T10:03:00Z,p,73\n2026-11-24T10:04:00Z,p,"74"\n2026-11-24T10:05:00Z,p,75\n',
    );
    expect(r.readings.map((x) => [x.line, x.value])).toEqual([
      [2, 70],
      [7, 75],
    ]);
    expect(r.rejections.map((x) => [x.line, x.reason])).toEqual([
      [3, 'a quote opened on line 3 closes only on line 6: the 4 lines were read as one row and none of them is stored (close or remove the quote)'],
    ]);
    expect(r.rows).toBe(6);
  });

  it('rejects a row with more fields than the header instead of shifting its values (an unquoted decimal comma)', async () => {
    // Before: temp 36 and hr 8 were stored from the first row, silently wrong.
    const r = await parseAll('timestamp,patient,temp,hr\n2026-11-24T10:00:00Z,p,36,8,72\n2026-11-24T10:01:00Z,p,"36,8",72,\n2026-11-24T10:02:00Z,p,37\n');
    expect(r.rejections.map((x) => [x.line, x.reason])).toEqual([
      [2, 'the row has 5 fields, the header 4 (an unquoted decimal comma? quote it, or separate with ;)'],
    ]);
    // A trailing empty field (some spreadsheets end rows with a delimiter) and a short row are read as they are.
    expect(r.readings.map((x) => [x.line, x.code, x.value])).toEqual([
      [3, '8310-5', 36.8],
      [3, '8867-4', 72],
      [4, '8310-5', 37],
    ]);
  });

  it('refuses two columns for the same reading, unless --map chooses one', async () => {
    // Before: both were read, and the second value at the same instant was skipped as "already there".
    await expect(parseAll('timestamp,patient,hr,hr\n2026-11-24T10:00:00Z,p,70,71\n')).rejects.toThrow(/columns "hr" and "hr" both hold Heart rate/);
    await expect(parseAll('timestamp,patient,hr,8867-4\n2026-11-24T10:00:00Z,p,70,71\n')).rejects.toThrow(/columns "hr" and "8867-4"/);
    const r = await parseAll('timestamp,patient,hr,pulse\n2026-11-24T10:00:00Z,p,70,71\n', { map: { hr: 'pulse' } });
    expect(r.readings.map((x) => [x.code, x.value])).toEqual([['8867-4', 71]]);
    expect(r.layout.ignored).toEqual(['hr']);
  });

  it('refuses a file it cannot lay out, naming what is missing', async () => {
    await expect(parseAll('when,who,what\n1,2,3\n')).rejects.toThrow(/no patient column|no readings found/);
    await expect(parseAll('patient,hr\np,60\n')).rejects.toThrow(/no timestamp column/);
    await expect(parseAll('timestamp,patient,hr\n', { map: { spo2: 'nope' } })).rejects.toThrow(/no column "nope"/);
  });

  it('stops at a row longer than any readings row (a quote never closed), naming its line, after yielding the rows before it', async () => {
    const head = 'timestamp,patient,hr\n2026-11-24T10:00:00Z,p,70\n';
    const seen: number[] = [];
    const read = async (text: string) => {
      const bytes = Buffer.from(text);
      const chunks = Array.from({ length: Math.ceil(bytes.length / 65_536) }, (_, i) => bytes.subarray(i * 65_536, (i + 1) * 65_536)); // read as a file is
      for await (const b of parseReadingsCsv(Readable.from(chunks), { tz: 'UTC', delimiter: ',', batchSize: 1 }))
        for (const r of b.readings) seen.push(r.value);
    };
    await expect(read(head + `2026-11-24T10:01:00Z,p,"71${'x'.repeat(MAX_RECORD_CHARS)}\n`)).rejects.toThrow(
      /^line 3: a row of more than 1,048,576 characters/,
    );
    // An unclosed quote swallows every following row into one field: stopped once that field passes the limit.
    const swallowed = '2026-11-24T10:02:00Z,p,72\n'.repeat(Math.ceil(MAX_RECORD_CHARS / 26) + 10);
    await expect(read(head + `2026-11-24T10:01:00Z,p,"71\n` + swallowed)).rejects.toThrow(/^line \d+: a row of more than/);
    expect(seen).toEqual([70, 70]); // the row before it, in each file
  });

  it('reads timestamps in a zone across DST, and US order on request', () => {
    expect(new Date(parseTimestamp('2026-03-29 03:30', 'Europe/Berlin') as number).toISOString()).toBe('2026-03-29T01:30:00.000Z');
    expect(new Date(parseTimestamp('2026-07-01 12:00', 'America/New_York') as number).toISOString()).toBe('2026-07-01T16:00:00.000Z');
    expect(new Date(parseTimestamp('11/24/2026 10:00', 'UTC', 'mdy') as number).toISOString()).toBe('2026-11-24T10:00:00.000Z');
    expect(parseTimestamp('1764000000000', 'UTC')).toBe(1764000000000);
    expect(parseTimestamp('yesterday', 'UTC')).toMatch(/not a timestamp/);
  });

  it('refuses a local time the clocks skipped, and reads one they repeated as the first of the two, on either side of UTC', async () => {
    const iso = (v: number | string) => (typeof v === 'number' ? new Date(v).toISOString() : v);
    for (let pass = 0; pass < 2; pass++) {
      // Twice: the second pass reads the per-minute cache the first one filled.
      expect(parseTimestamp('2026-03-29 02:30', 'Europe/Berlin')).toMatch(/^"2026-03-29 02:30" never happened in Europe\/Berlin/);
      expect(parseTimestamp('29.03.2026 02:00', 'Europe/Berlin')).toMatch(/never happened/);
      expect(iso(parseTimestamp('2026-03-29 01:59', 'Europe/Berlin'))).toBe('2026-03-29T00:59:00.000Z');
      expect(iso(parseTimestamp('2026-03-29 03:00', 'Europe/Berlin'))).toBe('2026-03-29T01:00:00.000Z');
      // 02:30 on 25 October happened at 00:30Z (summer time) and again at 01:30Z: the first.
      expect(iso(parseTimestamp('2026-10-25 02:30', 'Europe/Berlin'))).toBe('2026-10-25T00:30:00.000Z');
      expect(iso(parseTimestamp('2026-10-25 03:00', 'Europe/Berlin'))).toBe('2026-10-25T02:00:00.000Z');
      expect(parseTimestamp('2026-03-08 02:30', 'America/New_York')).toMatch(/never happened in America\/New_York/);
      // 01:30 on 1 November happened at 05:30Z (EDT) and again at 06:30Z (EST): the first.
      expect(iso(parseTimestamp('2026-11-01 01:30', 'America/New_York'))).toBe('2026-11-01T05:30:00.000Z');
      // Lord Howe moves by 30 minutes: 02:15 is skipped in October, and 01:45 repeated in April.
      expect(parseTimestamp('2026-10-04 02:15', 'Australia/Lord_Howe')).toMatch(/never happened/);
      expect(iso(parseTimestamp('2026-04-05 01:45', 'Australia/Lord_Howe'))).toBe('2026-04-04T14:45:00.000Z');
      // With an offset nothing is guessed.
      expect(iso(parseTimestamp('2026-03-29T02:30:00+01:00', 'Europe/Berlin'))).toBe('2026-03-29T01:30:00.000Z');
    }
    // In a file: the row is refused with its line and reason, the rows around it are read.
    const r = await parseAll('time,patient,hr\n2026-03-29 01:30,p,60\n2026-03-29 02:30,p,61\n2026-03-29 03:30,p,62\n', { tz: 'Europe/Berlin' });
    expect(r.readings.map((x) => [x.line, x.value, new Date(x.ts).toISOString()])).toEqual([
      [2, 60, '2026-03-29T00:30:00.000Z'],
      [4, 62, '2026-03-29T01:30:00.000Z'],
    ]);
    expect(r.rejections.map((x) => [x.line, x.reason.split(' (')[0]])).toEqual([[3, 'timestamp: "2026-03-29 02:30" never happened in Europe/Berlin']]);
  });
});

describe('reading CSV files at speed, without changing what is read', () => {
  it('finds the text of refused rows again by line (rowsAt), also after a BOM and a quoted field across lines', async () => {
    const text = '\uFEFFtimestamp;patient;code;value;note\n2026-11-24T10:00:00Z;A;hr;60;"two\nlines"\n\n2026-11-24T10:01:00Z;B;hr;61;"say ""hi"""\n';
    const parsed = await parseAll(text);
    expect(parsed.readings.map((r) => [r.line, r.patient])).toEqual([
      [2, 'A'],
      [5, 'B'],
    ]);
    const rows = await rowsAt(Readable.from([Buffer.from(text)]), new Set([2, 5]), ';');
    expect([...rows]).toEqual([
      [2, '2026-11-24T10:00:00Z;A;hr;60;"two\nlines"'],
      [5, '2026-11-24T10:01:00Z;B;hr;61;"say ""hi"""'],
    ]);
  });

  it('reports a row across lines at the line it starts on, with CR LF inside quotes counted once, in every chunking', async () => {
    // Before: the refused row was reported at its last line (5), and each CR LF inside quotes counted two lines,
    // so every later row was reported further down than it is. A lone CR ends a line too (as editors show it).
    const text =
      'timestamp,patient,hr,note\r\n' +
      '2026-11-24T10:00:00Z,p,60,ok\r\n' +
      '2026-11-24T10:01:00Z,p,abc,"first\r\nsecond\r\nthird"\r\n' +
      '2026-11-24T10:02:00Z,p,62,"a\rb"\r\n' +
      '2026-11-24T10:03:00Z,p,xyz,\r\n';
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 3, 7, bytes.length]) {
      const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
      const r = { readings: [] as number[], rejections: [] as Array<[number, string]>, rows: 0 };
      for await (const b of parseReadingsCsv(Readable.from(chunks), { tz: 'UTC', delimiter: ',', batchSize: 1 })) {
        r.readings.push(...b.readings.map((x) => x.line));
        r.rejections.push(...b.rejections.map((x): [number, string] => [x.line, x.reason]));
        r.rows = b.rows;
      }
      expect(r.readings).toEqual([2, 6]);
      expect(r.rejections).toEqual([
        [3, 'hr: value "abc" is not a number'],
        [8, 'hr: value "xyz" is not a number'],
      ]);
      expect(r.rows).toBe(4); // four rows after the header, whatever their lines
      const found = await rowsAt(Readable.from(chunks), new Set([3, 8]), ',');
      expect([...found.keys()]).toEqual([3, 8]);
      expect(found.get(3)).toBe('2026-11-24T10:01:00Z,p,abc,"first\r\nsecond\r\nthird"');
    }
  });

  it('counts empty rows (blank lines, and rows of empty fields) as rows read and skipped, never as rejected', async () => {
    const r = await parseAll('\ntimestamp,patient,hr\n2026-11-24T10:00:00Z,p,60\n\n,,\n  , ,\n\r\n2026-11-24T10:01:00Z,p,61\n\n');
    expect(r.readings.map((x) => [x.line, x.value])).toEqual([
      [3, 60],
      [8, 61],
    ]);
    expect(r.rejections).toEqual([]);
    // The blank line before the header; after it 2 rows with readings, 2 rows of empty fields and 3 blank lines (one CR LF).
    expect(r.emptyRows).toBe(6);
    expect(r.rows).toBe(8);
  });

  it('converts each unit spelling once per column, and still refuses an unknown one on every row', async () => {
    const r = await parseAll('time,patient,weight,temp\n2026-01-01T00:00:00Z,p,150 lb,98.6\n', { units: { temp: 'F' } });
    expect(r.rejections.map((x) => x.reason)).toEqual(['weight: value "150 lb" is not a number']);
    const long = await parseAll(
      'time,patient,code,value,unit\n' +
        [1, 2, 3].map((i) => `2026-01-01T00:0${i}:00Z,p,weight,${150 + i},lbs\n2026-01-01T00:0${i}:00Z,p,weight,${70 + i},hands`).join('\n') +
        '\n',
    );
    expect(long.readings.map((x) => x.value)).toEqual([68.492448, 68.94604, 69.399633]);
    expect(long.rejections.map((x) => [x.line, x.reason.split(' (')[0]])).toEqual([
      [3, 'weight: unit "hands" is not known for Body weight'],
      [5, 'weight: unit "hands" is not known for Body weight'],
      [7, 'weight: unit "hands" is not known for Body weight'],
    ]);
  });

  it('reads local times as the zone rules say, across DST changes, with offsets kept per local minute', () => {
    // zonedToUtc computed afresh for every instant; a skipped local time is refused with a reason.
    const readBack = (wall: number, tz: string) => zonedToUtc(wall, tz) ?? expect.stringMatching(/never happened in/);
    const zones = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'America/St_Johns'];
    const pad = (n: number) => String(n).padStart(2, '0');
    const text = (t: number) => {
      const d = new Date(t);
      return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
    };
    for (const tz of zones) {
      // Every 4 h 1 min 13 s through 2026 (both DST changes of each zone fall between samples); per sample the
      // last second of its minute first (fills the minute's offset), then the sample itself (reads it back).
      for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 14_473_000) {
        const last = Math.floor(t / 60_000) * 60_000 + 59_000;
        expect(parseTimestamp(text(last), tz)).toEqual(readBack(last, tz));
        expect(parseTimestamp(text(t), tz)).toEqual(readBack(t, tz));
      }
      // And minute by minute through the hours around this zone's changes (found where the offset moves).
      const H6 = 6 * 3_600_000;
      for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += H6) {
        if (zonedToUtc(t, tz)! - t === zonedToUtc(t + H6, tz)! - t - H6) continue;
        for (let m = t - 3_600_000; m <= t + H6 + 3_600_000; m += 60_000) {
          expect(parseTimestamp(text(m + 30_000), tz)).toEqual(readBack(m + 30_000, tz));
          expect(parseTimestamp(text(m), tz)).toEqual(readBack(m, tz));
        }
      }
    }
  }, 60_000);

  it('reads UTC ISO times from their characters, and still refuses impossible ones', () => {
    expect(parseTimestamp('2024-02-29T23:59:59.999Z', 'UTC')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59, 999));
    expect(parseTimestamp('2025-01-01T00:00:00Z', 'Europe/Berlin')).toBe(Date.UTC(2025, 0, 1));
    expect(parseTimestamp('2025-02-29T00:00:00Z', 'UTC')).toMatch(/not a real date/);
    expect(parseTimestamp('2025-13-01T00:00:00.000Z', 'UTC')).toMatch(/not a real date/);
    expect(parseTimestamp('2025-01-01T24:00:00Z', 'UTC')).toMatch(/not a real date/);
    expect(parseTimestamp('2025-0a-01T00:00:00Z', 'UTC')).toMatch(/not a timestamp/);
    expect(parseTimestamp(' 2025-01-01T00:00:00Z ', 'UTC')).toBe(Date.UTC(2025, 0, 1));
  });
});
