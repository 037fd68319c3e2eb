/** Temperature and weight keep one decimal; every other vital is a whole number. */
export function formatValue(value: number | null | undefined, decimals = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value.toFixed(decimals);
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "12 s ago", "4 min ago", "3 h ago", "2 d ago". */
export function formatAgo(ms: number, plain = false): string {
  const d = Math.max(0, ms);
  if (plain) {
    if (d < MINUTE) return 'just now';
    if (d < HOUR) return plural(Math.floor(d / MINUTE), 'minute') + ' ago';
    if (d < DAY) return plural(Math.floor(d / HOUR), 'hour') + ' ago';
    return plural(Math.floor(d / DAY), 'day') + ' ago';
  }
  if (d < 5 * SECOND) return 'now';
  if (d < MINUTE) return `${Math.floor(d / SECOND)} s ago`;
  if (d < HOUR) return `${Math.floor(d / MINUTE)} min ago`;
  if (d < DAY) return `${Math.floor(d / HOUR)} h ago`;
  return `${Math.floor(d / DAY)} d ago`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function toMs(ts: string | number): number {
  return typeof ts === 'number' ? ts : Date.parse(ts);
}

export function formatDateTime(ts: string | number | null | undefined): string {
  if (ts === null || ts === undefined) return '—';
  const d = new Date(toMs(ts));
  if (Number.isNaN(d.getTime())) return '—';
  return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

export function humanize(s: string): string {
  const t = s
    .replace(/[-_]+/g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .trim();
  return t.charAt(0).toUpperCase() + t.slice(1).toLowerCase();
}
