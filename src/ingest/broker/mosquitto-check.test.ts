import { describe, expect, it } from 'vitest';
import { checkMosquittoConfig } from './mosquitto-check.ts';

describe('checkMosquittoConfig', () => {
  it("Mosquitto's defaults lose acknowledged readings: queue limit, no persistence", () => {
    const w = checkMosquittoConfig('listener 1883\nallow_anonymous false\n');
    expect(w.join('\n')).toMatch(/max_queued_messages is 1000 \(Mosquitto default\)/);
    expect(w.join('\n')).toMatch(/persistence is off/);
  });
  it('the documented configuration passes', () => {
    expect(
      checkMosquittoConfig(
        '# vigil\npersistence true\npersistence_location /var/lib/mosquitto/\nautosave_interval 5\nmax_queued_messages 0\nmax_queued_bytes 0\n',
      ),
    ).toEqual([]);
  });
  it('a byte limit, a slow autosave and an include_dir are named', () => {
    const w = checkMosquittoConfig('persistence true\nmax_queued_messages 0\nmax_queued_bytes 1048576\ninclude_dir /etc/mosquitto/conf.d\n').join('\n');
    expect(w).toMatch(/max_queued_bytes is 1048576/);
    expect(w).toMatch(/autosave_interval is 1800 s \(Mosquitto default\)/);
    expect(w).toMatch(/include_dir \/etc\/mosquitto\/conf.d/);
  });
});
