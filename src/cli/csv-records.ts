/**
 * Splits CSV text fed in chunks of any size into records: quoted fields (`""` a quote) may hold commas and
 * newlines, so a chunk boundary or a line break inside quotes never splits a row.
 */
export function csvRecords() {
  let field = '';
  let record: string[] = [];
  let quoted = false;
  let closedQuote = false;
  const done: string[][] = [];
  const endRecord = () => {
    record.push(field);
    done.push(record);
    record = [];
    field = '';
  };
  return {
    /** The records completed by `text`. */
    push(text: string): string[][] {
      for (const c of text) {
        if (quoted) {
          if (c === '"') [quoted, closedQuote] = [false, true];
          else field += c;
          continue;
        }
        if (c === '"') {
          if (closedQuote) field += '"'; // `""` inside quotes: one quote, still quoted
          quoted = true;
        } else if (c === ',') {
          record.push(field);
          field = '';
        } else if (c === '\n') endRecord();
        else if (c !== '\r') field += c;
        closedQuote = false;
      }
      return done.splice(0);
    },
    /** The last record when the text did not end with a newline. */
    end(): string[][] {
      if (field !== '' || record.length) endRecord();
      return done.splice(0);
    },
  };
}
