import { realDay } from '../domain/calendar.ts';

/**
 * A birth date as Vigil stores it: a full day YYYY-MM-DD (FHIR `date` at day precision) that is on the calendar
 * (not 1960-02-30, which Date.parse rolls over to 1 March), not after today, not before 1880 (no one alive was
 * born earlier: a typo for a recent year). Null when it can be stored, else the reason.
 */
export function birthDateProblem(value: string, now: number): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return `must be a full date YYYY-MM-DD (got "${value.slice(0, 40)}")`;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (!realDay(y, mo, d)) return `${value} is not a day on the calendar`;
  const t = Date.UTC(y, mo - 1, d);
  // Today anywhere on Earth (UTC+14) is still today.
  if (t > now + 14 * 3_600_000) return `${value} is in the future`;
  if (y < 1880) return `${value} is before 1880`;
  return null;
}
