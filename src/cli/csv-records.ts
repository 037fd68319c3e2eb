import { csvParseCore } from '../csv/readings-csv.ts';

/**
 * Splits CSV text fed in chunks of any size into records, with csv-parse (the parser the imports use): quoted
 * fields (`""` a quote) may hold commas and newlines, so a chunk boundary or a line break inside quotes never
 * splits a row.
 */
export function csvRecords() {
  const parser = csvParseCore({ relax_column_count: true, record_delimiter: ['\r\n', '\n'] }); // LF or CR LF, even mixed;
  let done: string[][] = [];
  const feed = (chunk: Buffer | undefined, end: boolean): string[][] => {
    const err = parser.api.parse(
      chunk,
      end,
      (record) => void done.push(record),
      () => undefined,
    );
    if (err) throw err;
    const out = done;
    done = [];
    return out;
  };
  return {
    /** The records completed by `text`. */
    push: (text: string) => feed(Buffer.from(text), false),
    /** The last record when the text did not end with a newline. */
    end: () => feed(undefined, true),
  };
}
