import type { ReactNode } from 'react';
import { type PatientDetail } from '../../api/views.ts';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { TimeAgo } from '../../components/TimeAgo.tsx';
import { latestTs, vitalText } from '../../components/VitalTile.tsx';
import { useSession } from '../auth/session.ts';
import { DeviceList } from './DeviceList.tsx';
import { SelfTrend } from './SelfTrend.tsx';
import { usePatient } from './usePatient.ts';
import { VITALS } from '../../lib/vitals.ts';

/** The patient's own page: large type, plain words, nothing to configure. */
export function PatientSelfView({
  patientId,
  children,
  after,
}: {
  patientId: string;
  /** Portal sections shown above the readings. */ children?: ReactNode;
  /** [tele] and below the devices. */ after?: ReactNode;
}) {
  const patient = usePatient(patientId);
  const { me } = useSession();
  const p = patient.data;
  if (!p) {
    if (patient.error)
      return (
        <main className="page self">
          <ErrorNote error={patient.error} onRetry={patient.reload} />
        </main>
      );
    return <Loading label="Loading your readings…" />;
  }
  const firstName = (p.name || me.displayName).split(/\s+/)[0];
  const shown = VITALS.filter((v) => v.codes.some((c) => p.latest[c]));
  return (
    <main className="page self">
      <h1 className="self-hello">Hello, {firstName}</h1>
      <SelfStatus patient={p} />
      {children}
      <h2 className="self-h2">Your latest readings</h2>
      {shown.length === 0 ? <p className="self-note">We haven’t received any readings yet. Once your devices send a reading, it will appear here.</p> : null}
      <ul className="self-tiles">
        {shown.map((v) => {
          const values = v.codes.map((c) => p.latest[c]);
          const ts = latestTs(values);
          return (
            <li key={v.key} className="self-tile">
              <span className="self-label">{v.plain}</span>
              <span className="self-value">
                {vitalText(v, values)} <small>{v.plainUnit}</small>
              </span>
              <span className="self-when">
                Measured <TimeAgo ts={ts} plain />
              </span>
              <SelfTrend patientId={p.id} vital={v} latest={p.latest[v.codes[0]]} />
              {/* [tele] the portal's "my trends" */}
            </li>
          );
        })}
      </ul>
      <h2 className="self-h2">Your devices</h2>
      <div className="card self-devices">
        <DeviceList devices={p.devices} plain />
      </div>
      {after}
      <p className="self-note">If you feel unwell, don’t wait for your care team to call: phone your clinic, or call emergency services if it is urgent.</p>
    </main>
  );
}

function SelfStatus({ patient }: { patient: PatientDetail }) {
  let tone = 'ok';
  let text = 'Your care team can see your readings. Nothing needs your attention right now.';
  if (patient.status === 'alert' || patient.status === 'watch') {
    tone = 'attn';
    text = 'Your care team has been told about a recent reading and may contact you.';
  } else if (patient.status === 'stale' || patient.status === 'no-data') {
    tone = 'stale';
    text = 'We haven’t had a reading from you for a while. Please check your devices are switched on and nearby.';
  }
  return (
    <p className={`self-status self-status-${tone}`} role="status">
      {text}
    </p>
  );
}
