import { describe, expect, it } from 'vitest';
import { ByteWriter, encodedOnce } from './byte-writer.ts';

describe('ByteWriter', () => {
  it('writes numbers as String() does, text as UTF-8, and repeats what it wrote', () => {
    const numbers = [0, 7, 10, 99, 100, 123456, 2 ** 53 - 1, 2 ** 53, -1, -0, 0.5, 36.6, 1e21, 1e-7, -123.25, NaN, Infinity];
    const out = new ByteWriter(1); // grows from its smallest size
    for (const n of numbers) {
      out.number(n);
      out.ascii(';');
    }
    const mark = out.length;
    out.text('Ärztin µmol/L €');
    out.repeat(mark, out.length);
    const once = encodedOnce((s) => `"${s}"`);
    out.bytes(once('dev'));
    out.byte(0x21);
    expect(once('dev')).toBe(once('dev')); // encoded once
    expect(out.done().toString('utf8')).toBe(numbers.map((n) => String(n) + ';').join('') + 'Ärztin µmol/L €'.repeat(2) + '"dev"!');
  });

  it('grows for long text', () => {
    const out = new ByteWriter(0);
    const long = 'é'.repeat(10_000);
    out.text(long);
    out.ascii('x'.repeat(5_000));
    expect(out.done().toString('utf8')).toBe(long + 'x'.repeat(5_000));
  });
});
