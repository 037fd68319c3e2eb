import { type News2Summary } from '../api/views.ts';
import { RISK_LABEL, RISK_RESPONSE } from '../lib/status.ts';

/** NEWS2 aggregate coloured by clinical risk band; a dashed outline when the set is incomplete. */
export function News2Badge({ news2, size = 'md' }: { news2: News2Summary | null; size?: 'sm' | 'md' | 'lg' }) {
  if (!news2) {
    return (
      <span className={`news2 news2-${size} news2-none`} title="NEWS2 not available">
        –
      </span>
    );
  }
  const title = `NEWS2 ${news2.complete ? '' : 'at least '}${news2.score} · ${RISK_LABEL[news2.risk]} risk · ${RISK_RESPONSE[news2.risk]}${news2.complete ? '' : ' · partial observation set (missing or stale parameters)'}`;
  return (
    <span className={`news2 news2-${size} risk-${news2.risk} ${news2.complete ? '' : 'is-partial'}`} title={title} aria-label={title}>
      {news2.complete ? null : <span aria-hidden="true">≥</span>}
      {news2.score}
    </span>
  );
}
