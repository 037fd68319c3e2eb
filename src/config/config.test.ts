import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('config', () => {
  it('has the documented defaults (interfaces.md §2)', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ httpPort: 8080, mqttPort: 1883, demo: true, databaseUrl: undefined, mqttUrl: undefined });
    expect(c.dataDir.endsWith('/data')).toBe(true);
  });
  it('reads every setting', () => {
    const c = loadConfig({ VIGIL_HTTP_PORT: '9000', VIGIL_MQTT_PORT: '0', VIGIL_DEMO: '0', DATABASE_URL: 'postgres://u@h/db', MQTT_URL: 'mqtt://h:1884' });
    expect(c).toMatchObject({ httpPort: 9000, mqttPort: 0, demo: false, databaseUrl: 'postgres://u@h/db', mqttUrl: 'mqtt://h:1884' });
  });
  it('names the setting in a one-line error', () => {
    expect(() => loadConfig({ VIGIL_HTTP_PORT: 'eighty' })).toThrow(/^VIGIL_HTTP_PORT: .*\(got "eighty"\)$/);
    expect(() => loadConfig({ VIGIL_MQTT_PORT: '70000' })).toThrow(/^VIGIL_MQTT_PORT: must be 0–65535/);
    // Digits only: Number() read "0x1F90" as 8080 and " " as 0 (a random port).
    expect(() => loadConfig({ VIGIL_HTTP_PORT: '0x1F90' })).toThrow(/^VIGIL_HTTP_PORT: must be a port number \(digits only\)/);
    expect(() => loadConfig({ VIGIL_HTTP_PORT: ' ' })).toThrow(/^VIGIL_HTTP_PORT: must be a port number/);
    expect(loadConfig({ VIGIL_HTTP_PORT: ' 8081 ' }).httpPort).toBe(8081);
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/^DATABASE_URL: must be a URL starting with postgres:\/\//);
    expect(() => loadConfig({ VIGIL_DEMO: 'maybe' })).toThrow(/^VIGIL_DEMO: must be 1 or 0/);
    expect(() => loadConfig({ VIGIL_TIME_ZONE: 'Europe/Londn' })).toThrow(/^VIGIL_TIME_ZONE: must be an IANA time zone such as Europe\/London/);
  });
  it('reads the clinic time zone, by default the process’s own', () => {
    expect(loadConfig({ VIGIL_TIME_ZONE: 'America/New_York' }).timeZone).toBe('America/New_York');
    expect(loadConfig({}).timeZone).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
  });
  it('never echoes a URL password in an error, even from a URL too broken to parse', () => {
    for (const env of [{ MQTT_URL: 'mqtt://u:s3cretpw@host:99999' }, { DATABASE_URL: 'postgres://u:s3cretpw@host:99999/db' }]) {
      const message = (() => {
        try {
          loadConfig(env);
        } catch (err) {
          return (err as Error).message;
        }
      })();
      expect(message).toMatch(/\(got "[a-z]+:\/\/u:\*\*\*@host:99999/);
      expect(message).not.toContain('s3cretpw');
    }
    expect(() => loadConfig({ NATS_URL: 'nats://a:pw1@h1:4222,nats://b:p@w2@h2:99999' })).toThrow(/^NATS_URL: [^]*"nats:\/\/a:\*\*\*@h2:99999"\)$/);
  });
  it('requires a second factor except in the localhost demo, unless VIGIL_REQUIRE_MFA says otherwise', () => {
    expect(loadConfig({ VIGIL_DEMO: '0' }).security.requireMfa).toBe(true);
    expect(loadConfig({ VIGIL_DEMO: '1' }).security.requireMfa).toBe(false);
    expect(loadConfig({ VIGIL_DEMO: '1', VIGIL_REQUIRE_MFA: '1' }).security.requireMfa).toBe(true);
    expect(loadConfig({ VIGIL_DEMO: '0', VIGIL_REQUIRE_MFA: '0' }).security.requireMfa).toBe(false);
  });
  it('reads the erasure retention exceptions and refuses unknown ones (naming the setting)', () => {
    expect(loadConfig({}).privacy.erasureRetain).toEqual([]);
    expect(loadConfig({ VIGIL_ERASURE_RETAIN: 'readings, alerts' }).privacy.erasureRetain).toEqual(['readings', 'alerts']);
    expect(() => loadConfig({ VIGIL_ERASURE_RETAIN: 'readings,messages' })).toThrow(/^VIGIL_ERASURE_RETAIN: must be a comma-separated list of readings, ecg/);
  });
  it('holds the key settings (nothing else reads process.env for them)', () => {
    expect(loadConfig({}).keys).toEqual({ masterKey: undefined, auditKey: undefined, auditAnchor: undefined });
    expect(loadConfig({ VIGIL_MASTER_KEY: 'a2V5', VIGIL_AUDIT_KEY: 'YXVk', VIGIL_AUDIT_ANCHOR: '/srv/anchor.json' }).keys).toEqual({
      masterKey: 'a2V5',
      auditKey: 'YXVk',
      auditAnchor: '/srv/anchor.json',
    });
  });
});
