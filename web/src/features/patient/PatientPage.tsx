import { useState } from 'react';
import { api } from '../../api/client.ts';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { VitalTile } from '../../components/VitalTile.tsx';
import { useAsync } from '../../lib/useAsync.ts';
import { EXTRA_VITALS, VITALS } from '../../lib/vitals.ts';
import { CareTeamCard } from './CareTeamCard.tsx';
import { ClinicalSettings } from './ClinicalSettings.tsx';
import { DerivedSection } from './DerivedSection.tsx';
import { DeviceList } from './DeviceList.tsx';
import { EcgPanel } from './EcgPanel.tsx';
import { PatientAppointments } from '../visits/PatientAppointments.tsx'; // [tele]
import { PatientHeader } from './PatientHeader.tsx';
import { usePatient } from './usePatient.ts';
import { RANGES } from './useSeries.ts';
import { VitalChart } from './VitalChart.tsx';
import { BreakGlassPanel, EmergencyBanner } from '../security/EmergencyAccess.tsx'; // [sec]
import { useSession } from '../auth/session.ts';

export function PatientPage({ patientId }: { patientId: string }) {
  const patient = usePatient(patientId);
  const derived = useAsync((signal) => api.derived(patientId, signal), [patientId]);
  const [range, setRange] = useState(RANGES[0]);
  const { me } = useSession();

  const p = patient.data;
  if (!p) {
    if (patient.error) {
      // [sec] (d)(6): a clinician refused a record (404: not on the care team) may break the glass.
      const refused = (patient.error as { status?: number }).status === 404 && me.role === 'clinician';
      return (
        <main className="page">
          <a href="#/" className="back-link">
            ← Patients
          </a>
          {refused ? (
            <BreakGlassPanel
              patientId={patientId}
              onOpened={() => {
                patient.reload();
                derived.reload();
              }}
            />
          ) : (
            <ErrorNote error={patient.error} onRetry={patient.reload} />
          )}
        </main>
      );
    }
    return <Loading label="Loading patient…" />;
  }
  const extras = EXTRA_VITALS.filter((v) => v.codes.some((c) => p.latest[c]));
  return (
    <main className="page page-wide patient">
      <EmergencyBanner patientId={p.id} />
      <PatientHeader patient={p} />
      <div className="tiles">
        {[...VITALS, ...extras].map((v) => (
          <VitalTile key={v.key} vital={v} values={v.codes.map((c) => p.latest[c])} />
        ))}
      </div>

      <EcgPanel patientId={p.id} findings={derived.data?.ecg ?? null} />

      <section className="section">
        <header className="section-head">
          <h2>Trends</h2>
          <div className="segmented" role="group" aria-label="Time range">
            {RANGES.map((r) => (
              <button key={r.key} type="button" className={r.key === range.key ? 'is-on' : ''} aria-pressed={r.key === range.key} onClick={() => setRange(r)}>
                {r.label}
              </button>
            ))}
          </div>
        </header>
        <div className="charts">
          {VITALS.map((v) => (
            <VitalChart key={v.key} patientId={p.id} vital={v} range={range} />
          ))}
        </div>
      </section>

      <section className="section">
        <header className="section-head">
          <h2>Analysis</h2>
          {derived.error ? <span className="muted small">Couldn’t load: {derived.error.message}</span> : null}
        </header>
        <DerivedSection patient={p} derived={derived.data} spo2Scale={p.settings.spo2Scale} />
      </section>

      <section className="section">
        <ClinicalSettings
          patientId={p.id}
          settings={p.settings}
          effectiveTimeZone={derived.data?.timeZone}
          onSaved={() => {
            patient.reload();
            derived.reload();
          }}
        />
      </section>

      {me.role === 'admin' ? (
        <section className="section" aria-labelledby="care-team-h">
          <header className="section-head">
            <h2 id="care-team-h">Care team</h2>
          </header>
          <CareTeamCard patientId={p.id} patientName={p.name} team={p.careTeam} onChanged={patient.reload} />
        </section>
      ) : null}

      <section className="section">
        {/* [tele] */}
        <header className="section-head">
          <h2>Appointments</h2>
        </header>
        <PatientAppointments patientId={p.id} patientName={p.name} />
      </section>

      <section className="section">
        <header className="section-head">
          <h2>Devices</h2>
        </header>
        <div className="card">
          <DeviceList devices={p.devices} />
        </div>
      </section>
    </main>
  );
}
