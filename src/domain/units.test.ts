/**
 * Unit conversion (units.ts, codes.ts toCanonical) through UCUM: the units clinics and devices really use, units no
 * table listed, and what must not convert.
 */
import { describe, expect, it, vi } from 'vitest';
import { canonicalReading, toCanonical } from './codes.ts';
import { ucumConversion } from './units.ts';

const close = (v: number | undefined, expected: number) => expect(v).toBeCloseTo(expected, 6);

describe('unit conversion by UCUM', () => {
  it('converts the units of the issue and of the field to the canonical ones', () => {
    close(toCanonical('29463-7', 150, '[lb_av]'), 68.0388555);
    close(toCanonical('29463-7', 150, 'lb'), 68.0388555);
    close(toCanonical('29463-7', 11, '[stone_av]'), 69.85322498); // not in any table before
    close(toCanonical('29463-7', 70000, 'g'), 70);
    close(toCanonical('8310-5', 98.6, '[degF]'), 37);
    close(toCanonical('8310-5', 98.6, '°F'), 37);
    close(toCanonical('8310-5', 310.15, 'K'), 37);
    expect(toCanonical('8480-6', 16, 'kPa')).toBeCloseTo(120.0102, 4); // 1 mm[Hg] = 133.322 Pa (UCUM)
    close(toCanonical('8867-4', 1.2, '/s'), 72);
    close(toCanonical('8867-4', 72, 'bpm'), 72);
    close(toCanonical('8867-4', 72, '{beats}/min'), 72);
    // Glucose through its molar mass (180.156 g/mol), kept in whole mg/dL.
    expect(toCanonical('2339-0', 5.5, 'mmol/L')).toBe(99);
    expect(toCanonical('2339-0', 13.9, 'mmol/L')).toBe(250);
    expect(toCanonical('2339-0', 1, 'g/L')).toBe(100);
    expect(toCanonical('2339-0', 104, 'mg/dL')).toBe(104);
  });

  it('refuses what does not convert, without throwing, whatever the text', () => {
    for (const [code, unit] of [
      ['29463-7', 'mm[Hg]'], // another dimension
      ['8310-5', 'kg'],
      ['29463-7', 'C'], // the coulomb for weight: not Celsius
      ['55423-8', '%'], // UCUM turns any pure number into any other: % is not steps
      ['59408-5', '{steps}'],
      ['59408-5', '1'],
      ['8867-4', 'banana'],
      ['8867-4', 'constructor'], // the library throws on this one
      ['8867-4', '__proto__'],
      ['8867-4', 'toString'],
      ['8867-4', ''],
      ['8867-4', '/'.repeat(10_000)],
      ['8867-4', '10*'.repeat(30)],
    ] as const) {
      expect(toCanonical(code, 1, unit), `${code} ${unit.slice(0, 20)}`).toBeUndefined();
    }
    expect(ucumConversion('%', '%')).toBeNull(); // dimensionless canonical units take only themselves (codes.ts)
    expect(toCanonical('59408-5', 97, '%')).toBe(97);
  });

  it('keeps device text out of the log and the caches, and stores converted values without floating-point noise (found by review)', () => {
    const log = vi.spyOn(console, 'log');
    try {
      // The library prints what it cannot parse: a newline in a device's unit forged a JSON log line.
      expect(toCanonical('8867-4', 1, 'a b\n{"level":60,"msg":"forged"}')).toBeUndefined();
      expect(toCanonical('8867-4', 1, 'banana')).toBeUndefined();
      expect(toCanonical('8867-4', 1, 'bänana')).toBeUndefined();
      expect(log).not.toHaveBeenCalled();
    } finally {
      log.mockRestore();
    }
    // A megabyte of unit text is refused before any cache or parser sees it (was kept as a refusal, 1 MB each).
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) expect(toCanonical('29463-7', 70, `${i}`.padEnd(1 << 20, 'g'))).toBeUndefined();
    expect(performance.now() - t0).toBeLessThan(2_000);
    // A flood of distinct junk units does not stop a real one from converting.
    for (let i = 0; i < 2_000; i++) expect(toCanonical('29463-7', 70, `x${i}`)).toBeUndefined();
    close(toCanonical('29463-7', 150, '[lb_av]'), 68.0388555);
    expect(toCanonical('8310-5', 98.6, '[degF]')).toBe(37); // was 37.00000000000159
    expect(toCanonical('8310-5', 95, '°F')).toBe(35);
  });

  it('says which unit to use when one is refused, and checks the range after converting', () => {
    expect(canonicalReading('29463-7', 150, 'mm[Hg]')).toMatch(/unit "mm\[Hg\]" is not accepted \(use kg\)/);
    expect(canonicalReading('8310-5', 212, '[degF]')).toMatch(/100 Cel is outside the possible range 25–45/);
    expect(canonicalReading('29463-7', 2, '[oz_av]')).toMatch(/0.056699 kg is outside the possible range/);
    expect(canonicalReading('29463-7', 154, '[lb_av]')).toEqual({ value: 69.853225, unit: 'kg' });
  });
});
