import { type PanelPatient } from '../../api/views.ts';
import { href } from '../../app/router.ts';
import { DeviceBadges } from '../../components/DeviceBadges.tsx';
import { News2Badge } from '../../components/News2Badge.tsx';
import { StatusDot } from '../../components/StatusDot.tsx';
import { VITALS } from '../../lib/vitals.ts';
import { VitalCell } from './VitalCell.tsx';

export function PatientRow({ patient }: { patient: PanelPatient }) {
  const link = href({ name: 'patient', id: patient.id });
  return (
    <tr
      className={`prow prow-${patient.status}`}
      onClick={(e) => {
        if (!(e.target as HTMLElement).closest('a')) window.location.hash = link;
      }}
    >
      <td className="pcell-status">
        <StatusDot status={patient.status} withLabel />
      </td>
      <td className="pcell-name">
        <a href={link}>{patient.name}</a>
        <span className="muted small">{patient.age} y</span>
      </td>
      <td className="pcell-news2">
        <News2Badge news2={patient.news2} />
      </td>
      {VITALS.map((v) => (
        <VitalCell key={v.key} vital={v} values={v.codes.map((c) => patient.latest[c])} />
      ))}
      <td className="pcell-alerts">
        {patient.openAlerts > 0 ? (
          <span className="alert-count" title={`${patient.openAlerts} open alert${patient.openAlerts === 1 ? '' : 's'}`}>
            {patient.openAlerts}
          </span>
        ) : (
          <span className="muted">–</span>
        )}
      </td>
      <td className="pcell-devices">
        <DeviceBadges devices={patient.devices} />
      </td>
    </tr>
  );
}
