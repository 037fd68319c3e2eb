/** Whether y-m-d (month 1–12) is a day of the calendar: Date.UTC and Date.parse roll 2026-02-30 over to March 2. */
export function realDay(y: number, m: number, d: number): boolean {
  return m >= 1 && m <= 12 && d >= 1 && d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}
