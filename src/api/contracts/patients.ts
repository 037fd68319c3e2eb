import { z } from 'zod';
import { DeviceSummary } from './devices.ts';
import { ClampedInt, Id, TimeParam } from './common.ts';

export const News2Risk = z.enum(['low', 'low-medium', 'medium', 'high']);
export type News2Risk = z.infer<typeof News2Risk>;

/** NEWS2 as the server sends it: when the set is incomplete, score and risk are null and the lower bounds are given. */
export const News2Live = z.object({
  score: z.number().nullable(),
  partialScore: z.number(),
  risk: News2Risk.nullable(),
  minimumRisk: News2Risk,
  complete: z.boolean(),
  components: z.record(z.string(), z.number()),
  missing: z.array(z.string()),
  stale: z.array(z.string()),
  /** Parameters taken as normal without an observation (home monitoring: Alert unless confusion is reported; room air unless oxygen is recorded). */
  assumed: z.array(z.enum(['consciousness', 'airOrOxygen'])).optional(),
});
export type News2Live = z.infer<typeof News2Live>;

export const LatestValue = z.object({ value: z.number(), unit: z.string(), ts: z.string() });
export type LatestValue = z.infer<typeof LatestValue>;

export const PatientStatus = z.enum(['ok', 'watch', 'alert', 'stale', 'no-data']);
export type PatientStatus = z.infer<typeof PatientStatus>;

export const PanelPatient = z
  .object({
    id: z.string(),
    name: z.string(),
    birthDate: z.string().nullable(),
    age: z.number().nullable(),
    devices: z.array(DeviceSummary),
    /** Keyed by LOINC code. */
    latest: z.record(z.string(), LatestValue),
    news2: News2Live.nullable(),
    status: PatientStatus,
    openAlerts: z.number(),
  })
  .meta({ id: 'PanelPatient' });
export type PanelPatient = z.infer<typeof PanelPatient>;

export const Consciousness = z.enum(['A', 'C', 'V', 'P', 'U']);

/** Clinical settings as stored and returned (patient-status.ts). */
export const PatientSettings = z.object({
  spo2Scale: z.union([z.literal(1), z.literal(2)]),
  onOxygen: z.boolean(),
  /** Whether anyone recorded air or oxygen (false: NEWS2 assumes room air and says so). */
  oxygenRecorded: z.boolean(),
  assumeAlert: z.boolean(),
  consciousness: z.object({ value: Consciousness, ts: z.number() }).optional(),
  /** The patient's own IANA time zone; absent: the clinic's (VIGIL_TIME_ZONE). */
  timeZone: z.string().optional(),
});
export type PatientSettings = z.infer<typeof PatientSettings>;

/** Settings a clinician may send (unknown keys are ignored). */
export const SettingsPatch = z.looseObject({
  spo2Scale: z.union([z.literal(1), z.literal(2)], { error: 'spo2Scale must be 1 or 2' }).optional(),
  onOxygen: z.boolean({ error: 'onOxygen must be true or false' }).optional(),
  assumeAlert: z.boolean({ error: 'assumeAlert must be true or false' }).optional(),
  consciousness: Consciousness.optional(),
  timeZone: z.string({ error: 'timeZone must be an IANA time zone such as Europe/London, or null' }).max(64).nullable().optional(),
});

export const PatientDetail = PanelPatient.extend({ settings: PatientSettings, careTeam: z.array(z.object({ id: z.string(), name: z.string() })) }).meta({
  id: 'PatientDetail',
});
export type PatientDetail = z.infer<typeof PatientDetail>;

export const CreatePatientBody = z.object({
  name: z.string({ error: 'name is required' }).max(200),
  birthDate: z.string().max(10).nullable().optional(),
  sex: z.string().max(20).nullable().optional(),
  settings: z.record(z.string(), z.unknown(), { error: 'settings must be an object such as {"spo2Scale": 2}' }).optional(),
});

export const Created = z.object({ id: z.string() });

export const ReadingsQuery = z.object({
  code: z.string({ error: 'code is required (a LOINC code such as 8867-4)' }).min(1, 'code is required (a LOINC code such as 8867-4)').max(64),
  from: TimeParam.optional(),
  to: TimeParam.optional(),
  maxPoints: ClampedInt(10, 5_000, 1000),
});

export const ReadingSeries = z.object({
  code: z.string(),
  unit: z.string().nullable(),
  from: z.number(),
  to: z.number(),
  /** [epoch ms, value], downsampled min/max-preserving to ≤ maxPoints. */
  points: z.array(z.tuple([z.number(), z.number()])),
  /** When downsampled: the bucket width and each bucket's min, max, mean and count (null/empty when raw). */
  bucketMs: z.number().nullable(),
  buckets: z.array(z.object({ t: z.number(), min: z.number(), max: z.number(), mean: z.number(), n: z.number() })),
});
export type ReadingSeries = z.infer<typeof ReadingSeries>;

export const EcgQuery = z.object({ seconds: ClampedInt(1, 60, 10) });

export const EcgStrip = z.union([
  z.object({
    fs: z.number(),
    lead: z.string(),
    unit: z.string(),
    start: z.number(),
    deviceId: z.string(),
    samples: z.array(z.number()),
    beats: z.array(z.number()),
    af: z.array(z.object({ start: z.number(), end: z.number() })),
  }),
  z.object({ fs: z.null(), lead: z.null(), unit: z.null(), start: z.null(), samples: z.array(z.number()).length(0) }),
]);
export type EcgStrip = z.infer<typeof EcgStrip>;

export const AgpPoint = z.object({
  /** Minutes since midnight. */
  minute: z.number(),
  /** Readings in this bin; percentiles are null when too few. */
  n: z.number(),
  p5: z.number().nullable(),
  p25: z.number().nullable(),
  p50: z.number().nullable(),
  p75: z.number().nullable(),
  p95: z.number().nullable(),
});
export type AgpPoint = z.infer<typeof AgpPoint>;

const BpCategory = z.enum(['normal', 'elevated', 'stage1', 'stage2', 'crisis']);
/** One BP classification (ACC/AHA 2017): a category only with enough occasions, else a provisional one and why. */
/** An average over no readings is NaN in the analysis, sent as null (JSON has no NaN). */
const Mean = z.union([z.number(), z.nan()]).nullable();
const BpClassification = z.object({
  systolic: Mean,
  diastolic: Mean,
  readings: z.number(),
  occasions: z.number(),
  sufficient: z.boolean(),
  category: BpCategory.nullable(),
  provisionalCategory: BpCategory.nullable().optional(),
  reason: z.string().optional(),
});

export const DerivedBp = z.object({
  /** The category, or the provisional one when the readings are not yet sufficient. */
  category: BpCategory.nullable(),
  /** The same average against the home-monitoring thresholds (ACC/AHA 2017 Table 11: home 135/85 = office 140/90). */
  homeCategory: BpCategory.nullable(),
  sufficient: z.boolean(),
  reason: z.string().optional(),
  systolic: z.number(),
  diastolic: z.number(),
  readings: z.number(),
  home: z.object({ windowStart: z.number(), windowEnd: z.number(), overall: BpClassification, morning: BpClassification, evening: BpClassification }),
});
export type DerivedBp = z.infer<typeof DerivedBp>;

const CgmTargets = z.object({
  set: z.string(),
  label: z.string(),
  results: z.array(z.object({ metric: z.string(), label: z.string(), op: z.string(), value: z.number(), actual: z.number(), pass: z.boolean() })),
  pass: z.boolean(),
});
const CgmEvent = z.object({
  kind: z.string(),
  threshold: z.number(),
  start: z.number(),
  end: z.number(),
  durationMin: z.number(),
  extreme: z.number(),
  extremeAt: z.number(),
  ongoing: z.boolean(),
});

/** Consensus CGM metrics over 14 days (Battelino 2019; percentages 0–100, glucose mg/dL), targets, events and the AGP. */
export const DerivedCgm = z.object({
  start: z.number(),
  end: z.number(),
  days: z.number(),
  intervalMin: z.number(),
  readings: z.number(),
  expectedReadings: z.number(),
  activePercent: z.number(),
  sufficient: z.boolean(),
  mean: z.number(),
  sd: z.number(),
  cv: z.number(),
  gmi: z.number(),
  tbr54: z.number(),
  tbr70: z.number(),
  tir: z.number(),
  tar180: z.number(),
  tar250: z.number(),
  tbr54to69: z.number(),
  tar181to250: z.number(),
  tir63to140: z.number(),
  tbr63: z.number(),
  tar140: z.number(),
  targets: CgmTargets.nullable(),
  events: z.array(CgmEvent),
  agp: z.array(AgpPoint),
});
export type DerivedCgm = z.infer<typeof DerivedCgm>;

export const DerivedEcg = z.object({
  heartRate: z.number().nullable(),
  heartRateAt: z.string().nullable(),
  afEpisodes24h: z.number(),
  afBurdenMinutes24h: z.number(),
  algorithm: z.object({ name: z.string(), version: z.string() }).nullable(),
});
export type DerivedEcg = z.infer<typeof DerivedEcg>;

/** NEWS2 for the patient page (analysis/news2/live.ts), with the algorithm and the oldest input's time. */
export const DerivedNews2 = News2Live.extend({
  algorithm: z.object({ name: z.string(), version: z.string() }),
  oldestInputTs: z.number().nullable(),
  now: z.number(),
  rule: z.string(),
});
export type DerivedNews2 = z.infer<typeof DerivedNews2>;

export const Derived = z
  .object({
    news2: DerivedNews2.nullable(),
    bp: DerivedBp.nullable(),
    cgm: DerivedCgm.nullable(),
    ecg: DerivedEcg.nullable(),
    /** The IANA zone the clock times (AGP hours, home BP morning/evening) are read in: the patient's, else the clinic's. */
    timeZone: z.string(),
  })
  .meta({ id: 'Derived' });
export type Derived = z.infer<typeof Derived>;

export const CareTeamMemberParams = z.object({ id: Id, practitionerId: Id });

export const CareTeamBody = z.object({
  practitionerId: z
    .string({ error: 'practitionerId is required' })
    .min(1, 'practitionerId is required')
    .max(200)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters'),
});
