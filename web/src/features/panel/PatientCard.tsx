import { type PanelPatient } from '../../api/views.ts';
import { href } from '../../app/router.ts';
import { DeviceBadges } from '../../components/DeviceBadges.tsx';
import { FlashValue } from '../../components/FlashValue.tsx';
import { News2Badge } from '../../components/News2Badge.tsx';
import { StatusDot } from '../../components/StatusDot.tsx';
import { latestTs, vitalText } from '../../components/VitalTile.tsx';
import { STALE_AFTER_MS, useNow } from '../../lib/clock.ts';
import { formatAgo, toMs } from '../../lib/format.ts';
import { VITALS } from '../../lib/vitals.ts';

/** A central-station sector: the whole patient in a compact tile, for the wall view. */
export function PatientCard({ patient }: { patient: PanelPatient }) {
  const now = useNow();
  return (
    <a className={`pcard pcard-${patient.status}`} href={href({ name: 'patient', id: patient.id })}>
      <span className="pcard-head">
        <StatusDot status={patient.status} />
        <span className="pcard-name">{patient.name}</span>
        <span className="muted small">{patient.age} y</span>
        {patient.openAlerts > 0 ? (
          <span className="alert-count" title={`${patient.openAlerts} open alerts`}>
            {patient.openAlerts}
          </span>
        ) : null}
        <News2Badge news2={patient.news2} size="sm" />
      </span>
      <span className="pcard-vitals">
        {VITALS.map((v) => {
          const values = v.codes.map((c) => patient.latest[c]);
          const ts = latestTs(values);
          const age = ts ? now - toMs(ts) : Infinity;
          return (
            <span key={v.key} className={`pv ${age > STALE_AFTER_MS ? 'is-stale' : ''}`} title={ts ? `${v.label}: ${formatAgo(age)}` : `${v.label}: no data`}>
              <span className="pv-label">{v.short}</span>
              <FlashValue stamp={ts} className="pv-value">
                {vitalText(v, values)}
              </FlashValue>
            </span>
          );
        })}
      </span>
      <span className="pcard-foot">
        <DeviceBadges devices={patient.devices} />
      </span>
    </a>
  );
}
