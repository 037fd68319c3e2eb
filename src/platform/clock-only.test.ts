/**
 * "The Clock is used everywhere time is read" (issue 7): domain time (what is stored, rules, expiry,
 * last-seen) comes from the injected Clock (platform/clock.ts), so a test can move it. Real elapsed time for
 * timers and caches uses performance.now(), which says so. Outside the exempt folders no code reads
 * `Date.now()` or `new Date()`; the list of files still doing it only shrinks.
 */
import { describe, expect, it } from 'vitest';
import { countMatches } from '../../test/support/source-files.ts';

const READS_TIME = /\bDate\.now\(\)|\bnew Date\(\)/g;

/** Not the server's time: each of these runs with its own clock. */
const EXEMPT = [
  'platform/clock.ts', // the system clock itself
  'bridge/', // the serial bridge runs beside the device and timestamps with the device side's clock
  'simulator/', // simulated devices keep their own (device) clocks
  'cli/', // progress rates and report stamps of a command run by a person
  'demo/mailbox.ts', // stands in for an external SMTP server, which stamps mail with its own clock
];

/** file → reads still to move to the Clock (empty: every module reads the injected Clock). */
const NOT_YET_CLOCKED: Record<string, number> = {};

describe('time is read from the Clock', () => {
  it('no Date.now() / new Date() outside the exempt folders (except the shrinking list)', () => {
    expect(countMatches(READS_TIME, (file) => EXEMPT.some((e) => file.startsWith(e)))).toEqual(NOT_YET_CLOCKED);
  });

  it('the pattern finds what it must', () => {
    for (const s of ['const t = Date.now();', 'new Date().toISOString()']) expect(s.match(READS_TIME), s).not.toBeNull();
    for (const s of ['new Date(ts).toISOString()', 'deps.clock.now()', 'performance.now()']) expect(s.match(READS_TIME), s).toBeNull();
  });
});
