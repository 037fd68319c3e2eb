/** The device simulator: virtual patients whose devices publish over MQTT per interfaces.md §3. */
export { createSimulator, DEMO_INTERVALS_S, REALISTIC_INTERVALS_S } from './simulator.ts';
export type { Simulator, SimulatorOptions, SimulatorStats } from './simulator.ts';
export { makeVirtualPatients } from './virtual-patients.ts';
export type { VirtualPatient } from './virtual-patients.ts';
export { SCENARIOS, demoScenario, scenarioEffects, scenarioSeverity } from './scenarios.ts';
export type { ScenarioEffects } from './scenarios.ts';
export type { SimLogger } from './device-connection.ts';
export type * from './types.ts';
