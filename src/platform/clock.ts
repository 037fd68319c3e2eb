/** Time is a dependency so that rules, escalations and expiry are testable. */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };
