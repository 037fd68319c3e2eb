import { type PatientDetail } from '../../api/views.ts';
import { News2Badge } from '../../components/News2Badge.tsx';
import { StatusDot } from '../../components/StatusDot.tsx';
import { RISK_LABEL } from '../../lib/status.ts';
import { CallNowButton } from '../visits/CallNowButton.tsx'; // [tele]
import { OpenInAppButton } from './OpenInAppButton.tsx'; // [fhir] SMART EHR launch

export function PatientHeader({ patient }: { patient: PatientDetail }) {
  return (
    <header className={`patient-head status-band-${patient.status}`}>
      <div className="patient-id">
        <a href="#/" className="back-link">
          ← Patients
        </a>
        <h1>{patient.name}</h1>
        <p className="muted">
          {patient.birthDate !== null && patient.age !== null ? (
            <>
              {patient.age} years · born {new Date(patient.birthDate).toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' })}
            </>
          ) : (
            'Date of birth not recorded'
          )}
          {patient.careTeam?.length ? <> · care team {patient.careTeam.map((c) => c.name).join(', ')}</> : null}
        </p>
      </div>
      <div className="patient-flags">
        <div className="flag">
          <span className="flag-label">Status</span>
          <StatusDot status={patient.status} withLabel />
        </div>
        <div className="flag">
          <span className="flag-label">NEWS2</span>
          <span className="flag-news2">
            <News2Badge news2={patient.news2} size="lg" />
            {patient.news2 ? <span className="small">{RISK_LABEL[patient.news2.risk]}</span> : null}
          </span>
        </div>
        <div className="flag">
          <span className="flag-label">Open alerts</span>
          <span className={`flag-value ${patient.openAlerts ? 'has-alerts' : ''}`}>{patient.openAlerts}</span>
        </div>
        <div className="flag patient-contact">
          {/* [tele] reach the patient */}
          <a className="btn" href={`#/patients/${encodeURIComponent(patient.id)}/messages`}>
            Messages
          </a>
          <CallNowButton patientId={patient.id} />
          <OpenInAppButton patientId={patient.id} />
        </div>
      </div>
    </header>
  );
}
