import { z } from 'zod';

/**
 * Alert rules are data: a zod-validated definition per rule key, stored with a version at one of three
 * scopes (clinic default → care team → patient; the most specific wins). Every alert records the rule id
 * and version that fired it.
 */
export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

const severity = z.enum(SEVERITIES);
const ms = z
  .number()
  .int()
  .min(0)
  .max(30 * 86_400_000); // up to 30 days, in ms

/** Who is told when an alert stays unacknowledged: `care-team`, `admins`, or one user (`user:<id>`). */
const target = z.union([z.literal('care-team'), z.literal('admins'), z.string().regex(/^user:[\w-]+$/)]);
export const escalationSchema = z.array(z.object({ afterMs: ms.min(1000), to: target })).max(5);

const common = { severity: severity.default('warning'), escalation: escalationSchema.optional() };

export const ruleDefinitionSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('threshold'),
      code: z.string().min(1),
      op: z.enum(['below', 'above']),
      value: z.number(),
      /** Hysteresis: the condition only clears beyond this value (e.g. SpO2 alarm < 90, clears > 92). */
      clearAt: z.number(),
      /** Minimum duration the condition must hold (no alert on one dip), ms. */
      forMs: ms.default(0),
      /** How long the value must stay past clearAt before auto-resolve, ms. */
      clearForMs: ms.default(0),
      ...common,
    })
    .refine((r) => (r.op === 'below' ? r.clearAt >= r.value : r.clearAt <= r.value), { message: 'clearAt must lie on the normal side of value (hysteresis)' }),
  z.object({
    kind: z.literal('news2'),
    /** Severity per NEWS2 risk band; a band absent here does not alert. */
    bands: z.object({ 'low-medium': severity.optional(), medium: severity.optional(), high: severity.optional() }),
    ...common,
  }),
  z.object({
    kind: z.literal('rate-of-change'),
    code: z.string().min(1),
    /** Signed change that fires (+2 = rise of 2 units), within windowMs. */
    delta: z.number().refine((d) => d !== 0, 'delta must not be 0'),
    windowMs: ms.min(60_000),
    ...common,
  }),
  z.object({
    kind: z.literal('glucose'),
    code: z.string().default('2339-0'),
    low: z.number().default(70), // mg/dL, level 1 hypoglycaemia (ADA)
    urgentLow: z.number().default(54), // mg/dL, level 2 hypoglycaemia (ADA)
    high: z.number().default(250), // mg/dL
    /** Linear trend projecting below `low` within this horizon raises a predicted-low warning, ms. */
    predictHorizonMs: ms.default(30 * 60_000),
    /** Readings older than this are not used for the trend, ms. */
    trendWindowMs: ms.default(20 * 60_000),
    /** Hysteresis band, mg/dL: lows clear above low + margin, highs below high − margin. */
    clearMargin: z.number().min(0).default(10),
    /** In range this long before auto-resolve: CGM noise must not open and close alerts every reading, ms. */
    clearForMs: ms.default(20 * 60_000),
    ...common,
  }),
  z.object({ kind: z.literal('af'), ...common }),
  // Ventricular flutter/fibrillation on a wearable ECG: a cardiac arrest rhythm until proven otherwise.
  z.object({ kind: z.literal('vf'), ...common }),
  z.object({
    kind: z.literal('missing-data'),
    /** No reading for this long from a device that should be sending, ms. */
    afterMs: ms.min(60_000),
    /** A device counts as "should be sending" if it sent anything within this window, ms. */
    activeWithinMs: ms.default(24 * 3_600_000),
    ...common,
  }),
  z.object({ kind: z.literal('device-offline'), forMs: ms.default(5 * 60_000), ...common }),
  z.object({ kind: z.literal('battery-low'), below: z.number().min(0).max(100), clearAt: z.number().min(0).max(100), ...common }),
]);

export type RuleDefinition = z.infer<typeof ruleDefinitionSchema>;
export type RuleKind = RuleDefinition['kind'];

export type RuleScope = 'clinic' | 'team' | 'patient';

/** A stored rule version as the engine uses it. */
export interface Rule {
  /** Stable id of this (key, scope, scopeId) row, e.g. `rul_…`. */
  id: string;
  key: string;
  version: number;
  scope: RuleScope;
  /** '' for clinic, practitioner id for team, patient id for patient. */
  scopeId: string;
  enabled: boolean;
  definition: RuleDefinition;
  updatedAt: string;
  updatedBy: string | null;
}

const MIN = 60_000; // ms
const DEFAULT_LADDER = [
  { afterMs: 5 * MIN, to: 'care-team' as const },
  { afterMs: 15 * MIN, to: 'admins' as const },
];

/**
 * Earlier versions of a default, replaced by the current one at start where a clinic still has the rule
 * exactly as it was seeded (rules.service.ts); a clinician's own edit is never touched.
 */
export const SUPERSEDED_DEFAULTS: Record<string, unknown[]> = {
  'sbp-low': [{ kind: 'threshold', code: '8480-6', op: 'below', value: 90, clearAt: 100, forMs: 0, clearForMs: 0, severity: 'warning' }],
  'temp-high': [{ kind: 'threshold', code: '8310-5', op: 'above', value: 39.1, clearAt: 38.5, forMs: 0, clearForMs: 0, severity: 'warning' }],
  news2: [{ kind: 'news2', bands: { 'low-medium': 'critical', medium: 'warning', high: 'critical' }, severity: 'warning', escalation: DEFAULT_LADDER }],
};

/** Clinic defaults, seeded as version 1 on an empty database; clinicians edit them from there. */
export const DEFAULT_RULES: Record<string, unknown> = {
  'spo2-low': {
    kind: 'threshold',
    code: '59408-5',
    op: 'below',
    value: 90,
    clearAt: 92,
    forMs: 2 * MIN,
    clearForMs: MIN,
    severity: 'critical',
    escalation: DEFAULT_LADDER,
  },
  'hr-high': { kind: 'threshold', code: '8867-4', op: 'above', value: 130, clearAt: 120, forMs: 2 * MIN, clearForMs: MIN, severity: 'warning' },
  'hr-low': { kind: 'threshold', code: '8867-4', op: 'below', value: 40, clearAt: 45, forMs: 2 * MIN, clearForMs: MIN, severity: 'warning' },
  // Spot measurements (a cuff, a thermometer): back in range for 30 min before the alert clears, so repeated
  // measurements either side of the limit (88, 101, 88…) keep one alert open instead of one per crossing
  // (found by review: four alerts, and four notifications, in eight minutes).
  'sbp-low': { kind: 'threshold', code: '8480-6', op: 'below', value: 90, clearAt: 100, forMs: 0, clearForMs: 30 * MIN, severity: 'warning' },
  'temp-high': { kind: 'threshold', code: '8310-5', op: 'above', value: 39.1, clearAt: 38.5, forMs: 0, clearForMs: 30 * MIN, severity: 'warning' },
  // NEWS2 (RCP 2017, chart 2 and table 1): low < low-medium (a single parameter scoring 3: urgent ward-based
  // response) < medium (5–6: key threshold for an urgent response) < high (≥ 7: emergency response). Severity
  // never falls as the band rises (it did: medium was a warning under a critical low-medium, found by review).
  news2: { kind: 'news2', bands: { 'low-medium': 'warning', medium: 'critical', high: 'critical' }, severity: 'warning', escalation: DEFAULT_LADDER },
  // Heart failure: a gain of 2 kg within 3 days suggests fluid retention (ESC 2021 self-care advice).
  'weight-gain': { kind: 'rate-of-change', code: '29463-7', delta: 2, windowMs: 3 * 86_400_000, severity: 'warning' },
  glucose: { kind: 'glucose', severity: 'warning', escalation: DEFAULT_LADDER },
  af: { kind: 'af', severity: 'warning' },
  vf: {
    kind: 'vf',
    severity: 'critical',
    escalation: [
      { afterMs: MIN, to: 'care-team' as const },
      { afterMs: 3 * MIN, to: 'admins' as const },
    ],
  },
  'missing-data': { kind: 'missing-data', afterMs: 60 * MIN, severity: 'info' },
  'device-offline': { kind: 'device-offline', forMs: 30 * MIN, severity: 'info' },
  'battery-low': { kind: 'battery-low', below: 15, clearAt: 25, severity: 'info' },
};

/** Validates a definition (throws a zod error with the path of the first problem). */
export function parseRuleDefinition(raw: unknown): RuleDefinition {
  return ruleDefinitionSchema.parse(raw);
}
