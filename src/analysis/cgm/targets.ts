/**
 * Consensus targets (Battelino 2019, Table 2 / Figure 3). A target passes only as published: ">70 %"
 * means strictly more than 70, "<4 %" strictly less than 4, "≤36 %" at most 36.
 */
import type { CgmMetrics } from './metrics.ts';

export type TargetSetId = 'standard' | 'older-high-risk' | 'pregnancy';
type MetricKey = 'tir' | 'tbr70' | 'tbr54' | 'tar180' | 'tar250' | 'cv' | 'tir63to140' | 'tbr63' | 'tar140';
type Op = '>' | '<' | '≤';

export interface Target {
  metric: MetricKey;
  label: string;
  op: Op;
  value: number; // %
}

export interface TargetSet {
  id: TargetSetId;
  label: string;
  targets: Target[];
}

export const TARGET_SETS: Record<TargetSetId, TargetSet> = {
  standard: {
    id: 'standard',
    label: 'Type 1 and type 2 diabetes',
    targets: [
      { metric: 'tir', label: 'Time in range 70–180 mg/dL', op: '>', value: 70 },
      { metric: 'tbr70', label: 'Time below 70 mg/dL', op: '<', value: 4 },
      { metric: 'tbr54', label: 'Time below 54 mg/dL', op: '<', value: 1 },
      { metric: 'tar180', label: 'Time above 180 mg/dL', op: '<', value: 25 },
      { metric: 'tar250', label: 'Time above 250 mg/dL', op: '<', value: 5 },
      { metric: 'cv', label: 'Glucose variability (%CV)', op: '≤', value: 36 },
    ],
  },
  'older-high-risk': {
    id: 'older-high-risk',
    label: 'Older or high-risk (type 1 and type 2)',
    targets: [
      { metric: 'tir', label: 'Time in range 70–180 mg/dL', op: '>', value: 50 },
      { metric: 'tbr70', label: 'Time below 70 mg/dL', op: '<', value: 1 },
      { metric: 'tar180', label: 'Time above 180 mg/dL', op: '<', value: 50 },
      { metric: 'tar250', label: 'Time above 250 mg/dL', op: '<', value: 10 },
      { metric: 'cv', label: 'Glucose variability (%CV)', op: '≤', value: 36 },
    ],
  },
  pregnancy: {
    id: 'pregnancy',
    label: 'Pregnancy, type 1 diabetes (range 63–140 mg/dL)',
    targets: [
      { metric: 'tir63to140', label: 'Time in range 63–140 mg/dL', op: '>', value: 70 },
      { metric: 'tbr63', label: 'Time below 63 mg/dL', op: '<', value: 4 },
      { metric: 'tbr54', label: 'Time below 54 mg/dL', op: '<', value: 1 },
      { metric: 'tar140', label: 'Time above 140 mg/dL', op: '<', value: 25 },
    ],
  },
};

export interface TargetResult extends Target {
  actual: number;
  pass: boolean;
}

export interface TargetEvaluation {
  set: TargetSetId;
  label: string;
  results: TargetResult[];
  /** Every target met. */
  pass: boolean;
}

const meets = (actual: number, op: Op, value: number) => (op === '>' ? actual > value : op === '<' ? actual < value : actual <= value);

export function evaluateTargets(metrics: CgmMetrics, set: TargetSetId = 'standard'): TargetEvaluation {
  const def = TARGET_SETS[set];
  const results = def.targets.map((t) => ({ ...t, actual: metrics[t.metric], pass: meets(metrics[t.metric], t.op, t.value) }));
  return { set, label: def.label, results, pass: results.every((r) => r.pass) };
}
