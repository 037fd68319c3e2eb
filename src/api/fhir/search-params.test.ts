import { describe, expect, it } from 'vitest';
import { parseDateParams, parsePaging, parseReference, parseTokens } from './search-params.ts';

describe('FHIR search parameters', () => {
  it('reads date prefixes and the implicit range of a partial date', () => {
    expect(parseDateParams(['ge2026-11-01', 'le2026-11-24'])).toEqual({ from: Date.UTC(2026, 10, 1), to: Date.UTC(2026, 10, 25), toExclusive: true });
    expect(parseDateParams(['2026-11-24'])).toEqual({ from: Date.UTC(2026, 10, 24), to: Date.UTC(2026, 10, 25), toExclusive: true });
    expect(parseDateParams(['gt2026-11-24T10:00:00Z']).from).toBe(Date.parse('2026-11-24T10:00:00Z') + 1);
    expect(() => parseDateParams(['geyesterday'])).toThrow(/not a FHIR date/);
  });
  it('reads tokens with and without a system', () => {
    expect(parseTokens('http://loinc.org|8867-4,59408-5')).toEqual(['8867-4', '59408-5']);
  });
  it('reads references and paging', () => {
    expect(parseReference('Patient/pat_1', 'Patient')).toBe('pat_1');
    expect(parsePaging({ _count: '10', _offset: '20' })).toEqual({ count: 10, offset: 20 });
    expect(() => parsePaging({ _count: '-1' })).toThrow(/_count/);
  });
});
