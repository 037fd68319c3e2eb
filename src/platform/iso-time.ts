/** ISO 8601 text of instants, as `Date.prototype.toISOString` writes it, for text written per reading (COPY, live messages). */
const DAY = 86_400_000;
const two = (n: number) => (n < 10 ? '0' + n : '' + n);
const three = (n: number) => (n < 10 ? '00' + n : n < 100 ? '0' + n : '' + n);

/** epoch ms → the text `Date.prototype.toISOString` gives, at a tenth of its cost (no Date per row). */
export function isoFormatter(): (t: number) => string {
  let day = NaN;
  let prefix = '';
  return (t: number) => {
    if (!Number.isInteger(t)) return new Date(t).toISOString(); // a fraction of a ms: Date's own truncation
    const d = Math.floor(t / DAY);
    if (d !== day) {
      day = d;
      prefix = new Date(d * DAY).toISOString().slice(0, -13); // `2025-01-01T` (or `+275760-09-13T`)
    }
    let rest = t - d * DAY;
    const h = Math.floor(rest / 3_600_000);
    rest -= h * 3_600_000;
    const m = Math.floor(rest / 60_000);
    rest -= m * 60_000;
    const s = Math.floor(rest / 1000);
    return prefix + two(h) + ':' + two(m) + ':' + two(s) + '.' + three(rest - s * 1000) + 'Z';
  };
}
