import { STALE_AFTER_MS, useNow } from '../lib/clock.ts';
import { formatAgo, toMs } from '../lib/format.ts';

/** Live "12 s ago"; greyed once older than the stale threshold (15 min). */
export function TimeAgo({ ts, plain = false, className = '' }: { ts: string | number | null | undefined; plain?: boolean; className?: string }) {
  const now = useNow();
  if (ts === null || ts === undefined) return <span className={`ago ${className}`}>never</span>;
  const ms = toMs(ts);
  const stale = now - ms > STALE_AFTER_MS;
  return (
    <time className={`ago ${stale ? 'is-stale' : ''} ${className}`} dateTime={new Date(ms).toISOString()} title={new Date(ms).toLocaleString()}>
      {formatAgo(now - ms, plain)}
    </time>
  );
}
