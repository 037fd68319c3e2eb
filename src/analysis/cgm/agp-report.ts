/**
 * The one-page AGP report (Battelino 2019, Figure 2 layout): statistics and targets, time in ranges,
 * the AGP, daily profiles. Pure: data in, a self-contained HTML string out (inline CSS and SVG, no
 * scripts, no network), so it can be saved, e-mailed or printed as is.
 */
import { agpProfile, type AgpPoint } from './agp.ts';
import { agpPlotSvg, dailyProfileSvg, RANGE_COLORS, rangeBarSvg, type RangeShare } from './agp-svg.ts';
import { cgmDailySummaries, type CgmDaySummary } from './daily.ts';
import { detectAllEvents, type CgmEvent } from './events.ts';
import { computeCgmMetrics, type CgmMetrics } from './metrics.ts';
import { evaluateTargets, type TargetEvaluation, type TargetSetId } from './targets.ts';
import { DAY_MS, MINUTE_MS, normalizeReadings, type CgmReading } from './types.ts';

export interface AgpReport {
  metrics: CgmMetrics;
  targets: TargetEvaluation;
  agp: AgpPoint[];
  events: CgmEvent[];
  days: CgmDaySummary[];
  readings: CgmReading[];
  utcOffsetMinutes: number;
}

export interface AgpReportOptions {
  utcOffsetMinutes?: number;
  intervalMin?: number;
  targetSet?: TargetSetId;
}

/** Everything the report shows; null when there are no readings. */
export function buildAgpReport(input: readonly CgmReading[], opts: AgpReportOptions = {}): AgpReport | null {
  const readings = normalizeReadings(input);
  const metrics = computeCgmMetrics(readings, { intervalMin: opts.intervalMin });
  if (!metrics) return null;
  const utcOffsetMinutes = opts.utcOffsetMinutes ?? 0;
  return {
    metrics,
    targets: evaluateTargets(metrics, opts.targetSet),
    agp: agpProfile(readings, { utcOffsetMinutes }),
    events: detectAllEvents(readings, metrics.intervalMin),
    days: cgmDailySummaries(readings, { utcOffsetMinutes, intervalMin: metrics.intervalMin }),
    readings,
    utcOffsetMinutes,
  };
}

export interface AgpReportMeta {
  patientName?: string;
  generatedAt: number; // epoch ms, passed in (analysis never reads the clock)
  source?: string; // e.g. the CSV file name
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (v: number) => (v > 0 && v < 0.1 ? '&lt;0.1' : v.toFixed(1));
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
/** Local date as "Mon 5 Jan 2026"; `ts + offset` read as UTC is the patient's wall clock. */
function localDate(ts: number, offsetMin: number, withYear = true, withWeekday = false): string {
  const d = new Date(ts + offsetMin * MINUTE_MS);
  const s = `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}${withYear ? ` ${d.getUTCFullYear()}` : ''}`;
  return withWeekday ? `${WEEKDAYS[d.getUTCDay()]} ${s}` : s;
}
/** Share of a day as "2 h 05 min". */
function perDay(percent: number): string {
  const minutes = Math.round((percent / 100) * 1440);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h ? `${h} h ${String(m).padStart(2, '0')} min` : `${m} min`;
}
const opText = { '>': '&gt;', '<': '&lt;', '≤': '≤' } as const;

function rangeShares(m: CgmMetrics): RangeShare[] {
  return [
    { key: 'veryHigh', label: 'Very high', range: '>250 mg/dL', percent: m.tar250 },
    { key: 'high', label: 'High', range: '181–250 mg/dL', percent: m.tar181to250 },
    { key: 'target', label: 'Target range', range: '70–180 mg/dL', percent: m.tir },
    { key: 'low', label: 'Low', range: '54–69 mg/dL', percent: m.tbr54to69 },
    { key: 'veryLow', label: 'Very low', range: '<54 mg/dL', percent: m.tbr54 },
  ];
}

function eventSummary(events: CgmEvent[], days: number): string {
  const row = (kind: CgmEvent['kind'], label: string) => {
    const es = events.filter((e) => e.kind === kind);
    const avg = es.length ? Math.round(es.reduce((a, e) => a + e.durationMin, 0) / es.length) : 0;
    return `<tr><td>${label}</td><td class="num">${es.length}</td><td class="num">${((es.length / Math.max(days, 1 / 24)) * 7).toFixed(1)}</td><td class="num">${es.length ? `${avg} min` : '–'}</td></tr>`;
  };
  return `<table class="events"><thead><tr><th>Events (≥15 min)</th><th class="num">count</th><th class="num">per week</th><th class="num">mean duration</th></tr></thead><tbody>
${row('hypo-level2', 'Below 54 mg/dL')}${row('hypo-level1', 'Below 70 mg/dL')}${row('hyper-level1', 'Above 180 mg/dL')}${row('hyper-level2', 'Above 250 mg/dL')}</tbody></table>`;
}

export function renderAgpReportHtml(report: AgpReport, meta: AgpReportMeta): string {
  const { metrics: m, targets, utcOffsetMinutes: off } = report;
  const shares = rangeShares(m);
  const period = `${localDate(m.start, off)} – ${localDate(m.end - 1, off)}`;
  const insufficient = !m.sufficient
    ? `<div class="notice"><strong>Limited data.</strong> The consensus asks for 14 days with at least 70 % of expected readings; this report covers ${m.days.toFixed(1)} days with ${m.activePercent.toFixed(1)} % of readings. Interpret the metrics with care.</div>`
    : '';
  const targetRows = targets.results
    .map(
      (r) =>
        `<tr><td>${esc(r.label)}</td><td class="num">${opText[r.op]}${r.value} %</td><td class="num strong">${pct(r.actual)} %</td>` +
        `<td><span class="badge ${r.pass ? 'pass' : 'fail'}">${r.pass ? '✓ Met' : '✗ Not met'}</span></td></tr>`,
    )
    .join('');
  const legend = shares
    .map(
      (s) =>
        `<div class="lg"><span class="sw" style="background:${RANGE_COLORS[s.key]}"></span><span class="lg-name">${s.label}<small>${esc(s.range)}</small></span>` +
        `<span class="lg-val">${pct(s.percent)} %<small>${perDay(s.percent)}/day</small></span></div>`,
    )
    .join('');
  const dayCells = report.days
    .map((d, i) => {
      const rs = report.readings.filter((r) => r.ts >= d.start && r.ts < d.start + DAY_MS);
      return `<figure class="day"><figcaption><span>${localDate(d.start, off, false, true)}</span><span class="muted">${Math.round(d.metrics.tir)} % TIR</span></figcaption>${dailyProfileSvg(rs, d.start, `d${i}`)}</figure>`;
    })
    .join('');
  const patient = meta.patientName ? `<div class="patient">${esc(meta.patientName)}</div>` : '';
  const generated = new Date(meta.generatedAt).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>AGP report${meta.patientName ? ` – ${esc(meta.patientName)}` : ''}</title>
<style>
:root{--ink:#2b2f36;--muted:#6b7280;--line:#e3e6ea;--bg:#f6f7f9;--accent:#1f4e8c}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;-webkit-print-color-adjust:exact;print-color-adjust:exact}
.page{max-width:1040px;margin:0 auto;padding:24px}
header{display:flex;justify-content:space-between;align-items:flex-end;border-bottom:3px solid var(--accent);padding-bottom:12px;margin-bottom:16px}
h1{margin:0;font-size:22px;letter-spacing:.2px}
h1 small{display:block;font-size:13px;font-weight:500;color:var(--muted);margin-top:2px}
.meta{text-align:right;font-size:13px;color:var(--muted)}
.meta strong{color:var(--ink)}
.patient{font-size:18px;font-weight:600;color:var(--ink)}
h2{font-size:13px;text-transform:uppercase;letter-spacing:.8px;color:var(--accent);margin:0 0 10px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin-bottom:16px}
.grid{display:grid;grid-template-columns:1.35fr 1fr;gap:16px}
.grid .card{margin-bottom:0}
table{border-collapse:collapse;width:100%}
th{font-size:11px;text-transform:uppercase;letter-spacing:.5px;color:var(--muted);font-weight:600;text-align:left;padding:4px 6px;border-bottom:1px solid var(--line)}
td{padding:6px;border-bottom:1px solid var(--line)}
tr:last-child td{border-bottom:0}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.strong{font-weight:600}
.badge{display:inline-block;font-size:12px;font-weight:600;padding:2px 8px;border-radius:10px;white-space:nowrap}
.badge.pass{background:#e3f4e9;color:#1d7a43}
.badge.fail{background:#fde8e8;color:#b42318}
.stats{display:grid;grid-template-columns:repeat(4,1fr);gap:10px;margin-bottom:14px}
.stat{border:1px solid var(--line);border-radius:6px;padding:8px 10px}
.stat b{display:block;font-size:22px;font-weight:650;font-variant-numeric:tabular-nums}
.stat span{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.4px}
.stat em{font-style:normal;font-size:11px;color:var(--muted)}
.tir{display:flex;gap:18px;align-items:stretch}
.legend{display:flex;flex-direction:column;justify-content:space-between;flex:1}
.lg{display:flex;align-items:center;gap:10px}
.sw{width:12px;height:12px;border-radius:3px;flex:none}
.lg-name{flex:1;font-weight:600}
.lg-name small,.lg-val small{display:block;font-weight:400;color:var(--muted);font-size:11px}
.lg-val{text-align:right;font-weight:700;font-size:16px;font-variant-numeric:tabular-nums}
.tick{font-size:11px;fill:var(--muted)}
.tick.target{fill:#2e9e5b;font-weight:600}
.tick.median{fill:var(--accent);font-weight:700}
.agp-legend{display:flex;gap:18px;font-size:12px;color:var(--muted);margin-top:6px}
.agp-legend i{display:inline-block;width:18px;height:10px;vertical-align:-1px;margin-right:5px;border-radius:2px}
.days{display:grid;grid-template-columns:repeat(7,1fr);gap:8px}
.day{margin:0;border:1px solid var(--line);border-radius:4px;overflow:hidden}
.day figcaption{display:flex;justify-content:space-between;font-size:11px;padding:2px 5px;background:#fafbfc;border-bottom:1px solid var(--line)}
.day svg{display:block}
.muted{color:var(--muted)}
.notice{background:#fff7e6;border:1px solid #f5c26b;border-radius:6px;padding:10px 14px;margin-bottom:16px}
.events{margin-top:12px}
footer{font-size:11.5px;color:var(--muted);line-height:1.5}
@media print{body{background:#fff}.page{padding:0}.card{break-inside:avoid}@page{size:A4;margin:12mm}}
</style></head>
<body><div class="page">
<header><div><h1>Ambulatory Glucose Profile<small>Continuous glucose monitoring report</small></h1></div>
<div class="meta">${patient}<div><strong>${period}</strong> · ${m.days.toFixed(1)} days</div><div>Sensor active <strong>${m.activePercent.toFixed(1)} %</strong> · ${m.readings.toLocaleString('en-US')} readings</div></div></header>
${insufficient}
<div class="grid">
<section class="card"><h2>Glucose statistics and targets</h2>
<div class="stats">
<div class="stat"><span>Mean glucose</span><b>${Math.round(m.mean)}</b><em>mg/dL</em></div>
<div class="stat"><span>GMI</span><b>${m.gmi.toFixed(1)} %</b><em>glucose management indicator</em></div>
<div class="stat"><span>Variability</span><b>${m.cv.toFixed(1)} %</b><em>%CV · target ≤36 %</em></div>
<div class="stat"><span>Active</span><b>${Math.round(m.activePercent)} %</b><em>target ≥70 % over 14 days</em></div>
</div>
<table><thead><tr><th>${esc(targets.label)}</th><th class="num">target</th><th class="num">result</th><th></th></tr></thead><tbody>${targetRows}</tbody></table>
</section>
<section class="card"><h2>Time in ranges</h2>
<div class="tir">${rangeBarSvg(shares)}<div class="legend">${legend}</div></div>
</section>
</div>
<section class="card" style="margin-top:16px"><h2>Ambulatory glucose profile</h2>
${agpPlotSvg(report.agp)}
<div class="agp-legend"><span><i style="background:#1f4e8c;height:3px;vertical-align:3px"></i>median (50 %)</span><span><i style="background:#7fa8d9"></i>25–75 %</span><span><i style="background:#c9dcf2"></i>5–95 %</span><span><i style="background:#e8f5ec;border:1px solid #2e9e5b"></i>target range 70–180 mg/dL</span></div>
${eventSummary(report.events, m.days)}
</section>
<section class="card"><h2>Daily glucose profiles</h2><div class="days">${dayCells}</div>
<div class="muted" style="font-size:11px;margin-top:6px">Each panel is one day, midnight to midnight; shaded band 70–180 mg/dL; red below 70, orange above 180.</div></section>
<footer>Metrics follow the International Consensus on Time in Range (Battelino et al., Diabetes Care 2019;42:1593–1603).
Percentages are shares of readings; GMI (%) = 3.31 + 0.02392 × mean glucose (mg/dL); %CV = SD / mean × 100 (sample SD).
Percentile curves pool all readings within ±30 min of each time of day. Events last ≥15 min beyond a threshold and end after ≥15 min back.
${meta.source ? `Source: ${esc(meta.source)}. ` : ''}Generated by Vigil ${generated}. This report supports, and does not replace, clinical judgement.</footer>
</div></body></html>
`;
}
