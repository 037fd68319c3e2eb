import { scoreNews2FromLatest, type News2LiveResult } from '../analysis/news2/index.ts';
import { isTimeZone } from '../platform/time-zone.ts';
import type { LatestValue } from '../store/readings.repository.ts';

export type PanelStatus = 'alert' | 'watch' | 'stale' | 'ok' | 'no-data';

export const STALE_AFTER_MS = 15 * 60_000; // 15 min: a home vitals device sends every few seconds to minutes

/** Per-patient clinical settings (patients.settings), with the clinic defaults. */
export interface PatientSettings {
  /** NEWS2 SpO2 scale 2: hypercapnic respiratory failure with a prescribed 88–92 % target (a clinician's decision). */
  spo2Scale: 1 | 2;
  onOxygen: boolean;
  /**
   * Home monitoring has no nurse doing ACVPU every hour: consciousness is taken as Alert unless a
   * clinician or the patient reports new confusion (setting it to C/V/P/U). Set false to require an
   * explicit timed assessment.
   */
  assumeAlert: boolean;
  /** Whether anyone recorded air or oxygen for this patient (onOxygen false by default: room air assumed). */
  oxygenRecorded: boolean;
  consciousness?: { value: 'A' | 'C' | 'V' | 'P' | 'U'; ts: number };
  /** The patient's own IANA zone when it is not the clinic's (clock times: AGP, home BP morning/evening, CGM days). */
  timeZone?: string;
}

export function settingsOf(raw: Record<string, unknown>): PatientSettings {
  return {
    spo2Scale: raw.spo2Scale === 2 ? 2 : 1,
    onOxygen: raw.onOxygen === true,
    assumeAlert: raw.assumeAlert !== false,
    oxygenRecorded: typeof raw.onOxygen === 'boolean',
    consciousness: (raw.consciousness as PatientSettings['consciousness']) ?? undefined,
    timeZone: typeof raw.timeZone === 'string' && isTimeZone(raw.timeZone) ? raw.timeZone : undefined,
  };
}

/** NEWS2 from the latest readings (pure; `now` passed in). */
export function news2For(
  latest: Record<string, LatestValue>,
  settings: PatientSettings,
  now: number,
): News2LiveResult & { assumed: Array<'consciousness' | 'airOrOxygen'> } {
  const consciousness = settings.consciousness ?? (settings.assumeAlert ? { value: 'A' as const, ts: now } : undefined);
  const vitals = Object.fromEntries(Object.entries(latest).map(([code, v]) => [code, { value: v.value, ts: v.ts }]));
  // What the score takes as normal without an observation says so (found by review: a score on assumed Alert and
  // room air read as complete, as if both had been observed).
  const assumed: Array<'consciousness' | 'airOrOxygen'> = [];
  if (!settings.consciousness && settings.assumeAlert) assumed.push('consciousness');
  if (!settings.oxygenRecorded) assumed.push('airOrOxygen');
  return { ...scoreNews2FromLatest(vitals, { spo2Scale: settings.spo2Scale, onOxygen: settings.onOxygen, consciousness }, now), assumed };
}

/**
 * The panel's colour: alert when NEWS2 (or its lower bound) is medium/high or a single parameter
 * scores 3, or a critical alert is open; watch for low-medium or any open alert; stale when the
 * newest reading is older than STALE_AFTER_MS.
 */
export function panelStatus(
  latest: Record<string, LatestValue>,
  news2: News2LiveResult | null,
  openAlerts: { critical: number; total: number },
  now: number,
): PanelStatus {
  const newest = Math.max(0, ...Object.values(latest).map((v) => v.ts));
  if (newest === 0) return 'no-data';
  const risk = news2 ? (news2.risk ?? news2.minimumRisk) : 'low';
  if (openAlerts.critical > 0 || risk === 'high' || risk === 'medium') return 'alert';
  if (now - newest > STALE_AFTER_MS) return 'stale';
  if (risk === 'low-medium' || openAlerts.total > 0) return 'watch';
  return 'ok';
}
