import type { News2Live, News2Risk, PanelPatient as PanelPatientWire, PatientDetail as PatientDetailWire, LiveMessageOf } from '@contracts';

/**
 * What the screens show, derived from the server's contract types (src/api/contracts): NEWS2 as one
 * score to display. An incomplete set has no score on the wire (null, RCP 2017); the panel shows its
 * lower bound instead, marked incomplete.
 */
export interface News2Summary {
  score: number;
  risk: News2Risk;
  /** False when the score was computed from a partial set of observations (a lower bound). */
  complete: boolean;
}

export type PanelPatient = Omit<PanelPatientWire, 'news2'> & { news2: News2Summary | null };
export type PatientDetail = Omit<PatientDetailWire, 'news2'> & { news2: News2Summary | null };

type News2Source = Pick<News2Live, 'score' | 'risk' | 'complete' | 'partialScore' | 'minimumRisk'> | LiveMessageOf<'news2'>;

/** The score, or for an incomplete set its lower bound (the true score can only be higher). */
export function news2Display(n: News2Source | null | undefined): News2Summary | null {
  if (!n) return null;
  return { score: n.score ?? n.partialScore, risk: n.risk ?? n.minimumRisk, complete: n.complete };
}

export function toPanelView<P extends PanelPatientWire>(p: P): Omit<P, 'news2'> & { news2: News2Summary | null } {
  return { ...p, news2: news2Display(p.news2) };
}
