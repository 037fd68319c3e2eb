import { describe, expect, it } from 'vitest';
import { dateMatches, parseDateValue, sqlInstant } from './date.ts';
import { isStrict, parseSearch, parseToken, splitOr } from './params.ts';

const spec = { params: [{ name: 'code', type: 'token' as const, modifiers: ['text'], documentation: '' }], sorts: ['date'] };

describe('FHIR search parameters', () => {
  it('reads the implicit range of partial dates and instants', () => {
    expect(parseDateValue('ge2026-11-01')).toEqual({ prefix: 'ge', start: Date.UTC(2026, 10, 1), end: Date.UTC(2026, 10, 2) });
    expect(parseDateValue('2026-11')).toMatchObject({ prefix: 'eq', start: Date.UTC(2026, 10, 1), end: Date.UTC(2026, 11, 1) });
    expect(parseDateValue('2026')).toMatchObject({ start: Date.UTC(2026, 0, 1), end: Date.UTC(2027, 0, 1) });
    expect(parseDateValue('lt2026-11-24T10:00:00+01:00')).toMatchObject({
      prefix: 'lt',
      start: Date.UTC(2026, 10, 24, 9),
      end: Date.UTC(2026, 10, 24, 9, 0, 1),
    });
    expect(() => parseDateValue('geyesterday')).toThrow(/not a FHIR date/);
    expect(() => parseDateValue('2026-13-01')).toThrow(/not a FHIR date/);
    expect(() => parseDateValue('xx2026-11-01')).toThrow(/not a FHIR date/);
  });
  it('reads years 0001–0099 as themselves and bounds past 9999 or before 0001 as ±infinity for the database', () => {
    const y1 = parseDateValue('0001');
    expect(new Date(y1.start).toISOString()).toBe('0001-01-01T00:00:00.000Z');
    expect(new Date(parseDateValue('0099-12-31').end).toISOString()).toBe('0100-01-01T00:00:00.000Z');
    const y9999 = parseDateValue('le9999-12-31');
    expect(sqlInstant(y9999.start)).toBe('9999-12-31T00:00:00.000Z');
    expect(sqlInstant(y9999.end)).toBe('infinity');
    expect(sqlInstant(y1.start)).toBe('0001-01-01T00:00:00.000Z');
    expect(sqlInstant(y1.start - 1)).toBe('-infinity');
  });
  it('links an _elements of unknown names not at all, and one of some known names with those only (§3.1.1.3.3)', () => {
    const none = parseSearch('Observation', { _elements: 'bogus', _count: '1' }, spec, false);
    expect(none.elements).toBeUndefined();
    expect(none.applied.toString()).toBe('_count=1');
    expect(none.ignored).toHaveLength(1);
    const some = parseSearch('Observation', { _elements: ['bogus,status', 'nope'] }, spec, false);
    expect(some.elements).toEqual(['status']);
    expect(some.applied.get('_elements')).toBe('status');
    expect(() => parseSearch('Observation', { _elements: 'bogus' }, spec, true)).toThrow(/not an element/);
  });
  it('compares ranges as R4 §3.1.1.4.4 says, for instants and periods', () => {
    const day = parseDateValue('2026-11-24');
    const inDay = Date.UTC(2026, 10, 24, 12);
    const next = Date.UTC(2026, 10, 25, 12);
    const prev = Date.UTC(2026, 10, 23, 12);
    const at = (p: string) => ({ ...day, prefix: p as never });
    expect([prev, inDay, next].map((t) => dateMatches(at('eq'), t, t))).toEqual([false, true, false]);
    expect([prev, inDay, next].map((t) => dateMatches(at('ne'), t, t))).toEqual([true, false, true]);
    expect([prev, inDay, next].map((t) => dateMatches(at('gt'), t, t))).toEqual([false, false, true]);
    expect([prev, inDay, next].map((t) => dateMatches(at('ge'), t, t))).toEqual([false, true, true]);
    expect([prev, inDay, next].map((t) => dateMatches(at('lt'), t, t))).toEqual([true, false, false]);
    expect([prev, inDay, next].map((t) => dateMatches(at('le'), t, t))).toEqual([true, true, false]);
    // A period straddling midnight: not "eq" the day, but both gt-overlapping and lt-overlapping.
    expect(dateMatches(at('eq'), inDay, next)).toBe(false);
    expect(dateMatches(at('gt'), inDay, next)).toBe(true);
    expect(dateMatches(at('sa'), inDay, next)).toBe(false);
    expect(dateMatches(at('eb'), prev, prev + 1000)).toBe(true);
  });
  it('splits OR lists with escapes, reads tokens and Prefer', () => {
    expect(splitOr('a,b\\,c')).toEqual(['a', 'b,c']);
    expect(parseToken('http://loinc.org|8867-4')).toEqual({ system: 'http://loinc.org', code: '8867-4' });
    expect(parseToken('|8867-4')).toEqual({ system: null, code: '8867-4' });
    expect(parseToken('http://loinc.org|')).toEqual({ system: 'http://loinc.org', code: undefined });
    expect(isStrict('handling=strict')).toBe(true);
    expect(isStrict('return=minimal; handling=strict')).toBe(true);
    expect(isStrict('handling=lenient')).toBe(false);
    expect(isStrict(undefined)).toBe(false);
  });
  it('keeps only what it applied for the self link, refusing under strict handling', () => {
    const lenient = parseSearch('Observation', { code: '1,2', foo: 'x', _sort: 'value', _count: '5' }, spec, false);
    expect(lenient.applied.toString()).toBe('code=1%2C2&_count=5');
    expect(lenient.ignored).toHaveLength(2);
    expect(() => parseSearch('Observation', { foo: 'x' }, spec, true)).toThrow(/"foo" is not supported/);
    expect(() => parseSearch('Observation', { 'code:below': 'x' }, spec, false)).toThrow(/modifier/);
    expect(() => parseSearch('Observation', { _count: '-1' }, spec, false)).toThrow(/_count/);
    expect(parseSearch('Observation', { _count: '5000' }, spec, false).count).toBe(1000);
  });
});
