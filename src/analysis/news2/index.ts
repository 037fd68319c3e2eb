/** NEWS2 (RCP 2017): chart scoring, aggregate and risk band, and live scoring from latest readings. */
export * from './chart.ts';
export * from './score.ts';
export * from './live.ts';
