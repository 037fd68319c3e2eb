import type { LatestValue } from '@contracts';
import { FlashValue } from '../../components/FlashValue.tsx';
import { latestTs, vitalText } from '../../components/VitalTile.tsx';
import { STALE_AFTER_MS, useNow } from '../../lib/clock.ts';
import { formatAgo, toMs } from '../../lib/format.ts';
import type { VitalDef } from '../../lib/vitals.ts';

/** One vital in a panel row: value, unit, and how fresh it is; greyed when stale. */
export function VitalCell({ vital, values }: { vital: VitalDef; values: (LatestValue | undefined)[] }) {
  const now = useNow();
  const ts = latestTs(values);
  if (!ts)
    return (
      <td className="vcell is-empty">
        <span className="vcell-value">—</span>
      </td>
    );
  const age = now - toMs(ts);
  return (
    <td className={`vcell ${age > STALE_AFTER_MS ? 'is-stale' : ''}`}>
      <FlashValue stamp={ts} className="vcell-value">
        {vitalText(vital, values)}
      </FlashValue>
      <span className="vcell-unit">{vital.unit}</span>
      <span className="vcell-ago">{formatAgo(age)}</span>
    </td>
  );
}
