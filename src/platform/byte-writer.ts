/**
 * Text and bytes written into one buffer that grows when a write might not fit: the COPY text of a batch and a
 * dashboard's `readings` message are built this way, per stored reading, without a string per reading. Parts
 * that repeat (a quoted code, a message's envelope) are encoded once and copied as bytes.
 */
export class ByteWriter {
  private buf: Buffer;
  private at = 0;

  constructor(expectedBytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(256, expectedBytes));
  }

  /** Bytes written so far: a mark for `repeat`. */
  get length(): number {
    return this.at;
  }

  /** Any text, as UTF-8. */
  text(s: string): void {
    this.room(s.length * 3); // a UTF-16 unit is at most 3 bytes of UTF-8
    this.at += this.buf.write(s, this.at, 'utf8');
  }

  /** Text known to be ASCII (digits, ISO times, JSON punctuation): one byte per character, no encoder call. */
  ascii(s: string): void {
    this.room(s.length);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < s.length; i++) buf[at++] = s.charCodeAt(i);
    this.at = at;
  }

  /** A finite number as `String(n)` writes it; an integer's digits without making the string. */
  number(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0 || Object.is(n, -0)) return this.ascii(String(n));
    if (n < 10) {
      this.room(1);
      this.buf[this.at++] = 48 + n;
      return;
    }
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    this.room(digits);
    for (let i = this.at + digits - 1, x = n; i >= this.at; i--, x = Math.floor(x / 10)) this.buf[i] = 48 + (x % 10);
    this.at += digits;
  }

  /** One byte (a comma, a newline: no call into the buffer's copy for one byte). */
  byte(b: number): void {
    this.room(1);
    this.buf[this.at++] = b;
  }

  /** Bytes encoded before (see `encodedOnce`). */
  bytes(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }

  /** Writes again what was written between two marks (`length` before and after). */
  repeat(from: number, to: number): void {
    this.room(to - from);
    this.buf.copyWithin(this.at, from, to);
    this.at += to - from;
  }

  /** What was written (a view of the buffer: no copy). */
  done(): Buffer {
    return this.buf.subarray(0, this.at);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
}

/** `format(s)` as UTF-8 bytes, made once per distinct `s` (patients, devices, codes and units repeat within a batch). */
export function encodedOnce(format: (s: string) => string): (s: string) => Buffer {
  const done = new Map<string, Buffer>();
  return (s) => {
    let out = done.get(s);
    if (out === undefined) done.set(s, (out = Buffer.from(format(s), 'utf8')));
    return out;
  };
}
