/**
 * Text read from a user's file, made fit for a one-line message on a terminal. A binary file read as a
 * header or a CSV row would otherwise put kilobytes of control bytes (which a terminal obeys) into stderr.
 */

// C0 and C1 controls, DEL, and the bidirectional overrides that reorder what a terminal shows.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(c: string): string {
  if (!CONTROL.test(c)) return c;
  const code = c.codePointAt(0)!;
  return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
}

/** Control characters escaped (`\x00`, `\n`), cut to `max` characters with `…`. */
export function printable(text: string, max = 80): string {
  let out = '';
  for (const c of text) {
    const e = escapeChar(c);
    if (out.length + e.length > max) return out + '…';
    out += e;
  }
  return out;
}

/**
 * An error message for stderr: each quoted part (`bad record line "…"`, where the reader quotes the user's
 * line) at most 80 characters, the whole at most 400, control characters escaped everywhere.
 */
export function safeMessage(message: string, quoted = 80, total = 400): string {
  // Greedy from the first quote to the last: a binary line may itself hold quotes.
  const shortened = message.replace(/"([\s\S]*)"/, (_, inner: string) => `"${printable(inner, quoted)}"`);
  return printable(shortened, total);
}
