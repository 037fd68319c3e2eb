import { describe, expect, it } from 'vitest';
import { parseBound, parseCodes } from './export.ts';

describe('readings.csv bounds (from, to)', () => {
  it('reads a day, an instant with an offset, or epoch ms', () => {
    expect(parseBound('from', '2026-11-24')).toBe(Date.parse('2026-11-24T00:00:00Z'));
    expect(parseBound('from', '2026-11-24T10:00:00+01:00')).toBe(Date.parse('2026-11-24T09:00:00Z'));
    expect(parseBound('from', '1795996800000')).toBe(1795996800000);
    expect(parseBound('from', '2028-02-29')).toBe(Date.parse('2028-02-29T00:00:00Z'));
    expect(parseBound('from', undefined)).toBeUndefined();
  });

  it('refuses a day that is not on the calendar instead of exporting from another one', () => {
    // Before: 2026-02-30 was read as March 2 and 2026-11-31 as December 1, silently.
    for (const v of ['2026-02-30', '2026-11-31', '2026-02-29T10:00:00Z', '2026-13-01', '2026-11-24T10:00:00'])
      expect(() => parseBound('from', v), v).toThrow(/from must be a date/);
  });
});

describe('readings.csv codes', () => {
  it('takes keys and code-shaped values, and refuses a word that is neither instead of exporting nothing', () => {
    expect(parseCodes('hr, 8480-6,147842,49436004')).toEqual(['hr', '8480-6', '147842', '49436004']);
    expect(parseCodes(undefined)).toBeUndefined();
    expect(parseCodes(',')).toBeUndefined();
    expect(() => parseCodes('hr,hrr,pulse rate')).toThrow(/^unknown codes "hrr", "pulse rate": give keys \(hr, spo2/);
  });
});
