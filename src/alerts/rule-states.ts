import type { RuleState } from './rule-engine.ts';

/** The rule engine's state for one (patient, rule, subject). */
export interface Tracked {
  patientId: string;
  ruleKey: string;
  subject: string;
  state: RuleState;
  /** When (the app's Clock) the last signal or tick touched this state. */
  touchedAt: number;
}

/**
 * Engine states by patient, rule and subject, nested so that a lookup builds no key string: it runs for
 * every reading and every rule of its code, and a `patient|rule|subject` string per lookup (built, then
 * hashed) was one of the largest costs of evaluating a reading.
 */
export class RuleStates {
  private readonly byPatient = new Map<string, Map<string, Map<string, Tracked>>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(patientId: string, ruleKey: string, subject: string): Tracked | undefined {
    return this.byPatient.get(patientId)?.get(ruleKey)?.get(subject);
  }

  set(t: Tracked): void {
    let rules = this.byPatient.get(t.patientId);
    if (!rules) this.byPatient.set(t.patientId, (rules = new Map()));
    let subjects = rules.get(t.ruleKey);
    if (!subjects) rules.set(t.ruleKey, (subjects = new Map()));
    if (!subjects.has(t.subject)) this.count++;
    subjects.set(t.subject, t);
  }

  delete(k: Pick<Tracked, 'patientId' | 'ruleKey' | 'subject'>): void {
    const rules = this.byPatient.get(k.patientId);
    const subjects = rules?.get(k.ruleKey);
    if (!subjects?.delete(k.subject)) return;
    this.count--;
    if (subjects.size === 0) rules!.delete(k.ruleKey);
    if (rules!.size === 0) this.byPatient.delete(k.patientId);
  }

  /** Every state, as a copy: callers may delete while they go through it. */
  values(): Tracked[] {
    const out: Tracked[] = [];
    for (const rules of this.byPatient.values()) for (const subjects of rules.values()) for (const t of subjects.values()) out.push(t);
    return out;
  }

  /** Forgets every state of the patients `which` says yes to (a bucket of patients changed hands). */
  deletePatients(which: (patientId: string) => boolean): void {
    for (const [patientId, rules] of this.byPatient) {
      if (!which(patientId)) continue;
      for (const subjects of rules.values()) this.count -= subjects.size;
      this.byPatient.delete(patientId);
    }
  }
}
