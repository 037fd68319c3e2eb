import type { DerivedEcg } from '../../api/types.ts';
import { EcgStrip } from '../../components/EcgStrip.tsx';
import { humanize } from '../../lib/format.ts';
import { Loading } from '../../components/Spinner.tsx';
import { TimeAgo } from '../../components/TimeAgo.tsx';
import { useEcg } from './useEcg.ts';

export function EcgPanel({ patientId, findings }: { patientId: string; findings: DerivedEcg | null }) {
  const ecg = useEcg(patientId);
  return (
    <section className="card ecg-card">
      <header className="card-head">
        <h2>ECG</h2>
        {ecg.state === 'ready' ? (
          <span className="muted small">
            Lead {ecg.strip.lead} · {ecg.strip.fs} Hz · last sample <TimeAgo ts={ecg.strip.start + (ecg.strip.samples.length / ecg.strip.fs) * 1000} />
            {ecg.strip.af.length ? <span className="pill pill-amber">AF detected</span> : null}
          </span>
        ) : null}
      </header>
      {ecg.state === 'loading' ? <Loading label="Loading ECG…" /> : null}
      {ecg.state === 'none' ? <p className="empty-inline">No ECG recorded for this patient.</p> : null}
      {ecg.state === 'error' ? <p className="empty-inline">Couldn’t load the ECG: {ecg.error.message}</p> : null}
      {ecg.state === 'ready' ? (
        <EcgStrip fs={ecg.strip.fs} samples={ecg.strip.samples} unit={ecg.strip.unit} lead={ecg.strip.lead} beats={ecg.strip.beats} af={ecg.strip.af} />
      ) : null}
      {findings ? <EcgFindings findings={findings} /> : null}
    </section>
  );
}

/** The ECG analysis block is open-ended; show its scalar fields as labelled facts. */
function EcgFindings({ findings }: { findings: DerivedEcg }) {
  const facts = Object.entries(findings).filter(([, v]) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean');
  if (facts.length === 0) return null;
  return (
    <dl className="facts">
      {facts.map(([k, v]) => (
        <div key={k}>
          <dt>{humanize(k)}</dt>
          <dd>{typeof v === 'number' ? (Number.isInteger(v) ? v : v.toFixed(1)) : String(v)}</dd>
        </div>
      ))}
    </dl>
  );
}
