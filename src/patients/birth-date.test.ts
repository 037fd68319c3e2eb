import { describe, expect, it } from 'vitest';
import { birthDateProblem } from './birth-date.ts';

describe('birthDateProblem', () => {
  const now = Date.parse('2026-12-02T12:00:00Z');
  it('takes a real past day', () => {
    for (const d of ['1936-12-09', '2000-02-29', '2026-12-02', '1880-01-01']) expect(birthDateProblem(d, now)).toBeNull();
  });
  it('names what is wrong with anything else', () => {
    expect(birthDateProblem('1960-02-30', now)).toMatch(/not a day on the calendar/);
    expect(birthDateProblem('1900-02-29', now)).toMatch(/not a day on the calendar/);
    expect(birthDateProblem('1960-13-01', now)).toMatch(/not a day on the calendar/);
    expect(birthDateProblem('1936-12', now)).toMatch(/full date YYYY-MM-DD/);
    expect(birthDateProblem('2999-01-01', now)).toMatch(/in the future/);
    expect(birthDateProblem('2026-12-04', now)).toMatch(/in the future/);
    expect(birthDateProblem('1066-10-14', now)).toMatch(/before 1880/);
    expect(birthDateProblem('', now)).toMatch(/full date YYYY-MM-DD/); // the REST create once passed "" to the database
  });
});
