import { type PanelPatient } from '../api/views.ts';
import type { News2Risk, PatientStatus } from '@contracts';

/** Panel order: the patients who need a nurse first. */
const STATUS_RANK: Record<PatientStatus, number> = { alert: 0, watch: 1, stale: 2, ok: 3, 'no-data': 4 };

export function bySeverityThenName(a: PanelPatient, b: PanelPatient): number {
  return STATUS_RANK[a.status] - STATUS_RANK[b.status] || a.name.localeCompare(b.name);
}

export const STATUS_LABEL: Record<PatientStatus, string> = {
  alert: 'Alert',
  watch: 'Watch',
  stale: 'Stale',
  ok: 'OK',
  'no-data': 'No data',
};

// NEWS2 clinical response bands (RCP 2017, table 1).
export const RISK_LABEL: Record<News2Risk, string> = {
  low: 'Low',
  'low-medium': 'Low–medium',
  medium: 'Medium',
  high: 'High',
};

export const RISK_RESPONSE: Record<News2Risk, string> = {
  low: 'Ward-based response',
  'low-medium': 'Urgent ward-based review (a single parameter scores 3)',
  medium: 'Urgent review within 1 hour',
  high: 'Emergency assessment; continuous monitoring',
};
