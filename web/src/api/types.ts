/** Response shapes of the Vigil app API (docs/api.md). Times are ISO strings unless named `…Ms`. */

export type Role = 'admin' | 'clinician' | 'patient';

export interface Me {
  id: string;
  email: string;
  role: Role;
  displayName: string;
  patientId: string | null;
  /** 'mfa': the password was right, the second factor is next; 'enrol': one must be set up first. */
  stage?: SignInStage;
}

export type SignInStage = 'full' | 'mfa' | 'enrol';

export interface LatestValue {
  value: number;
  unit: string;
  ts: string;
}

export type News2Risk = 'low' | 'low-medium' | 'medium' | 'high';

export interface News2Summary {
  score: number;
  risk: News2Risk;
  /** False when the score was computed from a partial set of observations. */
  complete: boolean;
}

/** NEWS2 as the server sends it: when incomplete, score/risk are null and the partial lower bounds are given. */
export interface News2Wire {
  score: number | null;
  risk: News2Risk | null;
  complete: boolean;
  partialScore?: number;
  minimumRisk?: News2Risk;
}

/** What to show: the score, or for an incomplete set its lower bound (the true score can only be higher). */
export function news2Display(n: News2Wire | News2Summary | null | undefined): News2Summary | null {
  if (!n) return null;
  const score = n.score ?? (n as News2Wire).partialScore;
  const risk = n.risk ?? (n as News2Wire).minimumRisk;
  if (score === undefined || score === null || !risk) return null;
  return { score, risk, complete: n.complete };
}

export type PatientStatus = 'ok' | 'watch' | 'alert' | 'stale' | 'no-data';

export interface DeviceSummary {
  id: string;
  patientId: string | null;
  type: string;
  name: string | null;
  online: boolean;
  battery: number | null;
  lastSeenAt: string | null;
  rejectedCount: number;
}

export interface PanelPatient {
  id: string;
  name: string;
  birthDate: string;
  age: number;
  devices: DeviceSummary[];
  /** Keyed by LOINC code. */
  latest: Record<string, LatestValue>;
  news2: News2Summary | null;
  status: PatientStatus;
  openAlerts: number;
}

export interface PatientDetail extends PanelPatient {
  settings: Record<string, unknown>;
  careTeam: { id: string; name: string }[];
}

export interface ReadingSeries {
  code: string;
  unit: string;
  /** [epoch ms, value] */
  points: [number, number][];
}

export interface EcgStrip {
  fs: number;
  lead: string;
  unit: string;
  /** Epoch ms of the first sample. */
  start: number;
  samples: number[];
  beats?: number[];
  af?: { start: number; end: number }[];
}

export interface News2Components {
  respiratoryRate: number;
  spo2: number;
  airOrOxygen: number;
  systolicBP: number;
  pulse: number;
  consciousness: number;
  temperature: number;
}

export interface DerivedNews2 extends Partial<News2Summary> {
  components?: Partial<News2Components>;
  ts?: string;
}

export interface DerivedBp {
  category?: string;
  systolic?: number;
  diastolic?: number;
  readings?: number;
  ts?: string;
}

export interface AgpPoint {
  /** Minutes since midnight, local time of the patient. */
  minute: number;
  p5: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
}

/** Consensus CGM metrics (Battelino 2019); percentages are 0–100. */
export interface DerivedCgm {
  days?: number;
  activePercent?: number;
  mean?: number;
  gmi?: number;
  cv?: number;
  tbr54?: number;
  tbr70?: number;
  tir?: number;
  tar180?: number;
  tar250?: number;
  agp?: AgpPoint[];
}

/** ECG findings from `GET /patients/{id}/derived` (src/patients/derived.service.ts). */
export interface DerivedEcg {
  heartRate: number | null;
  heartRateAt: string | null;
  afEpisodes24h: number;
  afBurdenMinutes24h: number;
  algorithm: { name: string; version: string } | null;
}

export interface Derived {
  news2: DerivedNews2 | null;
  bp: DerivedBp | null;
  cgm: DerivedCgm | null;
  ecg: DerivedEcg | null;
}

export interface CreatedDevice {
  id: string;
  secret: string;
  topic: string;
}

export interface Rejection {
  id: string;
  deviceId: string | null;
  topic: string;
  reason: string;
  excerpt: string;
  receivedAt: string;
}

export interface DemoInfo {
  logins: { email: string; password: string; role?: string }[];
}

export type AdminStats = Record<string, unknown>;

/** Messages the server pushes on /api/v1/stream. */
export type StreamMessage =
  | { type: 'readings'; patientId: string; readings: { code: string; value: number; unit: string; ts: string | number }[] }
  | { type: 'ecg'; patientId: string; fs: number; lead: string; ts: string | number; samples: number[] }
  | { type: 'device'; deviceId: string; patientId: string; online: boolean; battery: number | null; lastSeenAt: string }
  | ({ type: 'news2'; patientId: string } & News2Summary)
  | { type: 'alert'; patientId: string; [key: string]: unknown };

/** An alert email caught by the demo clinic's local mailbox. */
export interface DemoMail {
  to: string[];
  from: string;
  messageId: string;
  subject: string;
  receivedAt: string;
  text: string;
}
