import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadVisitsConfig, rtcConfigurationFor } from './visits.config.ts';

describe('visits configuration', () => {
  it('defaults to no outside servers at all', () => {
    expect(rtcConfigurationFor(loadVisitsConfig({}), 'p1', 0)).toEqual({ iceServers: [], iceTransportPolicy: 'all' });
  });

  it('holds a dropped participant’s place, and a room emptied by lost connections, for two minutes unless set', () => {
    expect(loadVisitsConfig({}).rejoinS).toBe(120);
    expect(loadVisitsConfig({ VIGIL_VISIT_REJOIN_S: '30' }).rejoinS).toBe(30);
  });

  it('hands each participant short-lived coturn credentials (TURN REST API: HMAC-SHA1 over "expiry:id")', () => {
    const c = loadVisitsConfig({
      VIGIL_TURN_URLS: 'turn:turn.clinic.example:3478?transport=udp, turns:turn.clinic.example:5349',
      VIGIL_TURN_SECRET: 'a-long-shared-secret',
      VIGIL_TURN_TTL_S: '600',
      VIGIL_ICE_TRANSPORT_POLICY: 'relay',
    });
    const rtc = rtcConfigurationFor(c, 'peer42', 1_000_000);
    expect(rtc.iceTransportPolicy).toBe('relay');
    const turn = rtc.iceServers[0];
    expect(turn.urls).toEqual(['turn:turn.clinic.example:3478?transport=udp', 'turns:turn.clinic.example:5349']);
    expect(turn.username).toBe('1600:peer42');
    expect(turn.credential).toBe(createHmac('sha1', 'a-long-shared-secret').update('1600:peer42').digest('base64'));
  });

  it('names the setting in every refusal', () => {
    expect(() => loadVisitsConfig({ VIGIL_ICE_SERVERS: '[{"urls":"http://x"}]' })).toThrow(/^VIGIL_ICE_SERVERS: urls must start with stun:/);
    expect(() => loadVisitsConfig({ VIGIL_ICE_SERVERS: 'stun:x' })).toThrow(/^VIGIL_ICE_SERVERS: must be a JSON array/);
    expect(() => loadVisitsConfig({ VIGIL_TURN_URLS: 'turn:x:3478' })).toThrow(/^VIGIL_TURN_SECRET: is required/);
    expect(() => loadVisitsConfig({ VIGIL_TURN_URLS: 'stun:x', VIGIL_TURN_SECRET: 'x'.repeat(20) })).toThrow(
      /^VIGIL_TURN_URLS: each URL must start with turn:/,
    );
    expect(() => loadVisitsConfig({ VIGIL_ICE_TRANSPORT_POLICY: 'relay' })).toThrow(/^VIGIL_ICE_TRANSPORT_POLICY: "relay" needs a TURN server/);
    expect(() => loadVisitsConfig({ VIGIL_ICE_TRANSPORT_POLICY: 'some' })).toThrow(/^VIGIL_ICE_TRANSPORT_POLICY: must be "all" or "relay"/);
    expect(() => loadVisitsConfig({ VIGIL_VISIT_REJOIN_S: '0' })).toThrow(/^VIGIL_VISIT_REJOIN_S: /);
  });
});
