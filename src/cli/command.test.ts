import { describe, expect, it } from 'vitest';
import { parseArgs } from './command.ts';
import { printable, safeMessage } from './safe-text.ts';
import { csvRecords } from './csv-records.ts';

describe('parseArgs', () => {
  it('never lets --json or --help take the next word as a value', () => {
    expect(parseArgs(['--json', '/data/101'])).toEqual({ positionals: ['/data/101'], flags: {}, json: true });
    expect(parseArgs(['--help', 'x']).positionals).toEqual(['x']);
    expect(parseArgs(['--lead', 'II', '--json', 'rec'])).toEqual({ positionals: ['rec'], flags: { lead: 'II' }, json: true });
  });
  it("keeps a verb's own switches plain, and other flags taking values", () => {
    expect(parseArgs(['--enable', '--email', 'a@b.test'], ['enable']).flags).toEqual({ enable: true, email: 'a@b.test' });
    expect(parseArgs(['--confidential', 'extra'], ['confidential'])).toMatchObject({ positionals: ['extra'], flags: { confidential: true } });
    expect(parseArgs(['--name', 'x']).flags).toEqual({ name: 'x' });
  });
});

describe('safe text', () => {
  it('escapes control characters and cuts long text', () => {
    expect(printable('a\x00b\x1b[31m\n\u202e', 80)).toBe('a\\x00b\\x1b[31m\\n\\u202e');
    expect(printable('x'.repeat(100), 10)).toBe('x'.repeat(10) + '…');
  });
  it('shortens the quoted part of a message and keeps the rest', () => {
    const m = safeMessage(`bad record line "${'\x01"'.repeat(900)}"`);
    expect(m.startsWith('bad record line "\\x01"')).toBe(true);
    expect(m.length).toBeLessThan(100);
    expect(m).not.toMatch(/[\x00-\x1f]/);
    expect(safeMessage('cannot read /x/y.hea')).toBe('cannot read /x/y.hea');
  });
});

describe('csvRecords', () => {
  it('splits records across chunks, with quotes, commas and newlines inside fields', () => {
    const p = csvRecords();
    const text = 'a,b\r\n"x, ""y""\nz",2\n3,';
    const out = [...text].flatMap((c) => p.push(c));
    expect([...out, ...p.end()]).toEqual([
      ['a', 'b'],
      ['x, "y"\nz', '2'],
      ['3', ''],
    ]);
  });
});
