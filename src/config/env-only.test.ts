/**
 * "One typed Config holds every setting and nothing else reads process.env" (issue 7): settings are read
 * once, by config/config.ts, into the Config that app.ts hands out. The exceptions are not server settings.
 */
import { describe, expect, it } from 'vitest';
import { countMatches } from '../../test/support/source-files.ts';

const READS_ENV = /\bprocess\.env\b/g;

const ALLOWED: Record<string, number> = {
  'config/config.ts': 1, // loadConfig's default source
  'cli/commands/bridge-serial.ts': 1, // the serial bridge (a separate program beside the device): its device secret
  'analysis/ecg/testdata.ts': 1, // where the PhysioNet evaluation data lives (scripts and tests, not the server)
};

describe('settings come from the Config', () => {
  it('no process.env outside config/config.ts (and the non-server exceptions)', () => {
    expect(countMatches(READS_ENV)).toEqual(ALLOWED);
  });
});
