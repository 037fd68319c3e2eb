import { news2Display, type PanelPatient } from '../../api/views.ts';
import type { Derived, DerivedBp, DerivedCgm, DerivedNews2 } from '@contracts';
import { News2Badge } from '../../components/News2Badge.tsx';
import { formatValue, humanize } from '../../lib/format.ts';
import { RISK_LABEL, RISK_RESPONSE } from '../../lib/status.ts';
import { CODE } from '../../lib/vitals.ts';
import { AgpPlot } from './AgpPlot.tsx';

export function DerivedSection({ patient, derived, spo2Scale = 1 }: { patient: PanelPatient; derived: Derived | undefined; spo2Scale?: 1 | 2 }) {
  return (
    <div className="derived-grid">
      <News2Card news2={derived?.news2 ?? null} patient={patient} spo2Scale={spo2Scale} />
      <BpCard bp={derived?.bp ?? null} />
      <CgmCard cgm={derived?.cgm ?? null} timeZone={derived?.timeZone} />
    </div>
  );
}

const ASSUMED: Record<string, string> = { consciousness: 'Alert (no ACVPU reported)', airOrOxygen: 'room air' };

// NEWS2 chart rows in the order the RCP chart prints them.
const NEWS2_ROWS: { key: string; label: string; code?: string; decimals?: number; unit?: string }[] = [
  { key: 'respiratoryRate', label: 'Respiration rate', code: CODE.rr, unit: '/min' },
  { key: 'spo2', label: 'SpO₂', code: CODE.spo2, unit: '%' },
  { key: 'airOrOxygen', label: 'Air or oxygen' },
  { key: 'systolicBP', label: 'Systolic BP', code: CODE.sbp, unit: 'mmHg' },
  { key: 'pulse', label: 'Pulse', code: CODE.hr, unit: '/min' },
  { key: 'consciousness', label: 'Consciousness' },
  { key: 'temperature', label: 'Temperature', code: CODE.temp, decimals: 1, unit: '°C' },
];

function News2Card({ news2, patient, spo2Scale }: { news2: DerivedNews2 | null; patient: PanelPatient; spo2Scale: 1 | 2 }) {
  const summary = news2Display(news2) ?? patient.news2;
  return (
    <section className="card">
      <header className="card-head">
        <h2>NEWS2</h2>
      </header>
      {!summary ? (
        <p className="empty-inline">No NEWS2 score yet.</p>
      ) : (
        <>
          <div className="news2-summary">
            <News2Badge news2={summary} size="lg" />
            <div>
              <strong>{RISK_LABEL[summary.risk]} clinical risk</strong>
              <p className="muted small">
                {RISK_RESPONSE[summary.risk]}
                {summary.complete ? '' : ' · scored on a partial set of observations'}
              </p>
              {news2?.assumed?.length ? (
                <p className="muted small">Assumes {news2.assumed.map((a) => ASSUMED[a]).join(' and ')}: no observation recorded.</p>
              ) : null}
            </div>
          </div>
          {news2?.components ? (
            <table className="mini-table">
              <tbody>
                {NEWS2_ROWS.map((r) => {
                  const c = news2.components?.[r.key];
                  const v = r.code ? patient.latest[r.code] : undefined;
                  return (
                    <tr key={r.key}>
                      <td>
                        {r.label}
                        {/* Scale 2 scores 88–92 % as 0: said beside the row, or the 0 reads as a scoring error (found by review). */}
                        {r.key === 'spo2' && spo2Scale === 2 ? <span className="muted small"> · scale 2 (target 88–92 %)</span> : null}
                      </td>
                      <td className="num muted">
                        {v ? `${formatValue(v.value, r.decimals ?? 0)} ${r.unit ?? ''}` : news2.assumed?.includes(r.key as 'consciousness') ? 'assumed' : ''}
                      </td>
                      <td className="num">
                        <span className={`cscore cscore-${c ?? 'na'}`}>{c ?? '–'}</span>
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          ) : null}
        </>
      )}
    </section>
  );
}

// ACC/AHA 2017 categories, with the AHA's patient-facing crisis band.
const BP_CATEGORIES: Record<string, { label: string; tone: string }> = {
  normal: { label: 'Normal', tone: 'green' },
  elevated: { label: 'Elevated', tone: 'yellow' },
  stage1: { label: 'Hypertension stage 1', tone: 'amber' },
  stage2: { label: 'Hypertension stage 2', tone: 'orange' },
  crisis: { label: 'Hypertensive crisis', tone: 'red' },
};

function bpCategory(raw: string | null | undefined) {
  if (!raw) return null;
  const k = raw
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .replace('hypertension', '')
    .replace('hypertensive', '');
  return BP_CATEGORIES[k] ?? { label: humanize(raw), tone: 'grey' };
}

function BpCard({ bp }: { bp: DerivedBp | null }) {
  const cat = bpCategory(bp?.category);
  return (
    <section className="card">
      <header className="card-head">
        <h2>Blood pressure</h2>
        <span className="muted small">ACC/AHA 2017</span>
      </header>
      {!bp ? (
        <p className="empty-inline">Not enough blood pressure readings to classify.</p>
      ) : (
        <div className="bp-summary">
          {cat ? <span className={`pill pill-${cat.tone} pill-lg`}>{cat.label}</span> : null}
          {bp.systolic !== undefined && bp.diastolic !== undefined ? (
            <p className="bp-avg">
              <strong>
                {formatValue(bp.systolic)}/{formatValue(bp.diastolic)}
              </strong>{' '}
              <span className="muted">mmHg average</span>
            </p>
          ) : null}
          {bp.readings !== undefined ? <p className="muted small">from {bp.readings} readings</p> : null}
          <HomeThresholdNote bp={bp} />
        </div>
      )}
    </section>
  );
}

/**
 * Home readings run lower than clinic readings: ACC/AHA 2017 Table 11 puts home 135/85 level with office
 * 140/90. The pill follows the office bands (the clinical reference); this says when the home bands differ.
 */
function HomeThresholdNote({ bp }: { bp: DerivedBp }) {
  const home = bpCategory(bp.homeCategory);
  if (!home || bp.homeCategory === bp.category) return null;
  return (
    <p className="small bp-home-note">
      By home-monitoring thresholds (ACC/AHA 2017 Table 11: 135/85 at home equals 140/90 in clinic): <strong>{home.label}</strong>
    </p>
  );
}

function CgmCard({ cgm, timeZone }: { cgm: DerivedCgm | null; timeZone: string | undefined }) {
  return (
    <section className="card card-wide">
      <header className="card-head">
        <h2>Glucose (CGM)</h2>
        <span className="muted small">International Consensus on Time in Range</span>
      </header>
      {!cgm ? <p className="empty-inline">No CGM data.</p> : <CgmBody cgm={cgm} timeZone={timeZone} />}
    </section>
  );
}

/** Metrics and the AGP come from the server (analysis/cgm): the browser computes no clinical figures. */
function CgmBody({ cgm, timeZone }: { cgm: DerivedCgm; timeZone: string | undefined }) {
  const agp = cgm.agp;
  const metric = (label: string, value: number | undefined, unit: string, target?: string, decimals = 0) => (
    <div className="metric">
      <span className="metric-label">{label}</span>
      <span className="metric-value">
        {formatValue(value, decimals)}
        <small>{unit}</small>
      </span>
      {target ? <span className="metric-target">{target}</span> : null}
    </div>
  );
  return (
    <div className="cgm">
      <div className="cgm-left">
        <TirBar cgm={cgm} />
        <div className="metrics">
          {metric('Mean glucose', cgm.mean, ' mg/dL')}
          {metric('GMI', cgm.gmi, ' %', undefined, 1)}
          {metric('Variability (CV)', cgm.cv, ' %', 'target ≤ 36 %', 1)}
          {metric('Sensor active', cgm.activePercent, ' %', 'target ≥ 70 %')}
          {metric('Days of data', cgm.days, '', 'target 14', 0)}
        </div>
      </div>
      <div className="cgm-right">
        <h3 className="sub">Ambulatory glucose profile</h3>
        {timeZone ? <p className="muted small">Hours of the day in {timeZone.replace(/_/g, ' ')}</p> : null}
        {agp.filter((p) => p.p50 !== null).length > 1 ? <AgpPlot points={agp} /> : <p className="empty-inline">Not enough readings for a profile.</p>}
        <p className="legend small muted">
          <span className="lg lg-5" /> 5–95 % <span className="lg lg-25" /> 25–75 % <span className="lg lg-50" /> median <span className="lg lg-target" />{' '}
          target 70–180 mg/dL
        </p>
      </div>
    </div>
  );
}

/** Time-in-ranges stacked bar, with the consensus targets. */
function TirBar({ cgm }: { cgm: DerivedCgm }) {
  const tbr54 = cgm.tbr54 ?? 0;
  const tbr70 = Math.max(0, (cgm.tbr70 ?? 0) - tbr54); // tbr70 is the total below 70, including < 54
  const tar250 = cgm.tar250 ?? 0;
  const tar180 = Math.max(0, (cgm.tar180 ?? 0) - tar250);
  const tir = cgm.tir ?? Math.max(0, 100 - tbr54 - tbr70 - tar180 - tar250);
  const rows = [
    { key: 'vhigh', label: 'Very high > 250', v: tar250, target: '< 5 %' },
    { key: 'high', label: 'High 181–250', v: tar180, target: '' },
    { key: 'tir', label: 'In range 70–180', v: tir, target: '> 70 %' },
    { key: 'low', label: 'Low 54–69', v: tbr70, target: '' },
    { key: 'vlow', label: 'Very low < 54', v: tbr54, target: '< 1 %' },
  ];
  return (
    <div className="tir">
      <div className="tir-bar" aria-hidden="true">
        {rows.map((r) => (
          <span key={r.key} className={`tir-${r.key}`} style={{ flexGrow: r.v, flexBasis: 0 }} />
        ))}
      </div>
      <ul className="tir-legend">
        {rows.map((r) => (
          <li key={r.key}>
            <span className={`sw tir-${r.key}`} />
            <span>{r.label}</span>
            <strong>{formatValue(r.v, r.v < 10 && r.v > 0 ? 1 : 0)} %</strong>
            <span className="muted small">{r.target}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
