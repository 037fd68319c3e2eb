import type { DerivedEcg } from '@contracts';
import { EcgStrip } from '../../components/EcgStrip.tsx';
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

/** What the ECG analysis found: heart rate from the ECG itself, and atrial fibrillation over the last 24 h. */
function EcgFindings({ findings }: { findings: DerivedEcg }) {
  const f = findings;
  return (
    <dl className="facts">
      <div>
        <dt>Heart rate (ECG)</dt>
        <dd>
          {f.heartRate != null ? (
            <>
              {f.heartRate} /min{' '}
              {f.heartRateAt ? (
                <span className="muted small">
                  <TimeAgo ts={Date.parse(f.heartRateAt)} />
                </span>
              ) : null}
            </>
          ) : (
            '—'
          )}
        </dd>
      </div>
      <div>
        <dt>AF episodes, 24 h</dt>
        <dd>{f.afEpisodes24h ?? 0}</dd>
      </div>
      <div>
        <dt>AF burden, 24 h</dt>
        <dd>{f.afBurdenMinutes24h ?? 0} min</dd>
      </div>
      {f.algorithm ? (
        <div>
          <dt>Algorithm</dt>
          <dd className="muted small">
            {f.algorithm.name} {f.algorithm.version}
          </dd>
        </div>
      ) : null}
    </dl>
  );
}
