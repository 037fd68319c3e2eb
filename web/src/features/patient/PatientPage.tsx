import { useState } from 'react';
import { api } from '../../api/client.ts';
import { ErrorNote, Loading } from '../../components/Spinner.tsx';
import { VitalTile } from '../../components/VitalTile.tsx';
import { useAsync } from '../../lib/useAsync.ts';
import { EXTRA_VITALS, VITALS } from '../../lib/vitals.ts';
import { DerivedSection } from './DerivedSection.tsx';
import { DeviceList } from './DeviceList.tsx';
import { EcgPanel } from './EcgPanel.tsx';
import { PatientHeader } from './PatientHeader.tsx';
import { usePatient } from './usePatient.ts';
import { RANGES } from './useSeries.ts';
import { VitalChart } from './VitalChart.tsx';


export function PatientPage({ patientId }: { patientId: string }) {
  const patient = usePatient(patientId);
  const derived = useAsync((signal) => api.derived(patientId, signal), [patientId]);
  const [range, setRange] = useState(RANGES[0]);

  const p = patient.data;
  if (!p) {
    if (patient.error) return <main className="page"><a href="#/" className="back-link">← Patients</a><ErrorNote error={patient.error} onRetry={patient.reload} /></main>;
    return <Loading label="Loading patient…" />;
  }
  const extras = EXTRA_VITALS.filter((v) => v.codes.some((c) => p.latest[c]));
  return (
    <main className="page page-wide patient">
      <PatientHeader patient={p} />
      <div className="tiles">
        {[...VITALS, ...extras].map((v) => <VitalTile key={v.key} vital={v} values={v.codes.map((c) => p.latest[c])} />)}
      </div>

      <EcgPanel patientId={p.id} findings={derived.data?.ecg ?? null} />

      <section className="section">
        <header className="section-head">
          <h2>Trends</h2>
          <div className="segmented" role="group" aria-label="Time range">
            {RANGES.map((r) => (
              <button key={r.key} type="button" className={r.key === range.key ? 'is-on' : ''} aria-pressed={r.key === range.key} onClick={() => setRange(r)}>{r.label}</button>
            ))}
          </div>
        </header>
        <div className="charts">
          {VITALS.map((v) => <VitalChart key={v.key} patientId={p.id} vital={v} range={range} />)}
        </div>
      </section>

      <section className="section">
        <header className="section-head"><h2>Analysis</h2>{derived.error ? <span className="muted small">Couldn’t load: {derived.error.message}</span> : null}</header>
        <DerivedSection patient={p} derived={derived.data} />
      </section>

      <section className="section">
        <header className="section-head"><h2>Devices</h2></header>
        <div className="card"><DeviceList devices={p.devices} /></div>
      </section>
    </main>
  );
}
