/** CGM (Battelino 2019 consensus): metrics, targets, AGP, events, daily summaries, CSV, synthetic data, AGP report. */
export * from './types.ts';
export * from './metrics.ts';
export * from './targets.ts';
export * from './agp.ts';
export * from './events.ts';
export * from './daily.ts';
export * from './csv.ts';
export * from './synthetic.ts';
export * from './agp-report.ts';
