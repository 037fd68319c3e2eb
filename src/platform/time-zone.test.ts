import { describe, expect, it } from 'vitest';
import { isTimeZone, localDayStart, offsetLookup, offsetMinutesAt } from './time-zone.ts';

describe('time zones (IANA, offset at each instant)', () => {
  it('knows IANA names and refuses anything else', () => {
    for (const z of ['UTC', 'Europe/London', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe']) expect(isTimeZone(z), z).toBe(true);
    for (const z of ['', 'Mars/Olympus', 'GMT+25', 'x'.repeat(65)]) expect(isTimeZone(z), z).toBe(false);
  });

  it('gives the offset in force at the instant, across daylight saving', () => {
    expect(offsetMinutesAt('America/New_York', Date.parse('2026-01-15T12:00:00Z'))).toBe(-300);
    expect(offsetMinutesAt('America/New_York', Date.parse('2026-07-15T12:00:00Z'))).toBe(-240);
    // US change 8 Mar 2026, 02:00 local (07:00Z): a minute before and after.
    expect(offsetMinutesAt('America/New_York', Date.parse('2026-03-08T06:59:00Z'))).toBe(-300);
    expect(offsetMinutesAt('America/New_York', Date.parse('2026-03-08T07:00:00Z'))).toBe(-240);
    expect(offsetMinutesAt('Asia/Kolkata', Date.parse('2026-03-08T07:00:00Z'))).toBe(330);
    expect(offsetMinutesAt('UTC', Date.parse('2026-03-08T07:00:00Z'))).toBe(0);
    const lookup = offsetLookup('Europe/London');
    expect(lookup(Date.parse('2026-10-25T00:59:00Z'))).toBe(60);
    expect(lookup(Date.parse('2026-10-25T01:00:00Z'))).toBe(0);
  });

  it('finds local midnight, also on the day the clocks change', () => {
    expect(localDayStart('America/New_York', Date.parse('2026-01-15T03:00:00Z'))).toBe(Date.parse('2026-01-14T05:00:00Z'));
    expect(localDayStart('America/New_York', Date.parse('2026-03-08T20:00:00Z'))).toBe(Date.parse('2026-03-08T05:00:00Z'));
    expect(localDayStart('Asia/Kolkata', Date.parse('2026-03-08T20:00:00Z'))).toBe(Date.parse('2026-03-08T18:30:00Z'));
    expect(localDayStart('UTC', Date.parse('2026-03-08T20:00:00Z'))).toBe(Date.parse('2026-03-08T00:00:00Z'));
  });
});
