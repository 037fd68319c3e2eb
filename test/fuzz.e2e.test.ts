/**
 * Issue 9 "Hostile input": a bounded, seeded fuzz run against a real server in CI. Every registered route
 * (enumerated from the running app, as routes.test.ts does) gets hostile params, queries and bodies; every
 * FHIR resource type gets hostile search parameters (from the CapabilityStatement); a device sends hostile
 * payloads through the real MQTT broker. Asserted: no 5xx, the server and the device connection stay up,
 * and a refused (4xx) write changes no stored data.
 * Reproduce a failure with the seed it prints: VIGIL_FUZZ_SEED=… npx vitest run test/fuzz.e2e.test.ts
 * Scale with VIGIL_FUZZ_SCALE (default 1 ≈ 2,500 cases).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { bootApp, type TestApp } from './support/app.ts';
import { isApiRoute } from '../src/api/policy.ts';
import { MQTT_LIMITS } from '../src/ingest/broker/limits.ts';

const SEED = Number(process.env.VIGIL_FUZZ_SEED ?? 20261130);
const SCALE = Number(process.env.VIGIL_FUZZ_SCALE ?? 1);

/** mulberry32: a small seeded PRNG, so a failing case can be replayed exactly. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick, chance: (p: number) => next() < p };
}
const rnd = prng(SEED);

const HOSTILE_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '%00',
  '\uD800',
  '\uFFFF',
  '😀'.repeat(50),
  'x'.repeat(5_000),
  'y'.repeat(70_000),
  "' OR 1=1 --",
  '"; DROP TABLE patients; --',
  '../../../../etc/passwd',
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
  '__proto__',
  'constructor',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-0',
  '1e300',
  '-1e300',
  '99999999999999999999999',
  '0x1F',
  '2026-99-99',
  '2026-02-30T25:61:61Z',
  '+275760-09-13T00:00:00.001Z',
  '-271821-04-20T00:00:00Z',
  '0000-00-00',
  'T',
  '1970-01-01',
  'Patient/',
  'Patient/../Observation',
  'a|b|c',
  '\\',
  '%',
  '%%',
  '%zz',
  '*',
  '?',
  '#',
  '&',
  '=',
  '\r\n',
  'ge',
  'lt9',
  'eq',
  'sa1e300',
  'http://localhost.evil.example/',
];
const HOSTILE_NUMBERS = [0, -1, 1e300, -1e300, 1.5, Number.MAX_SAFE_INTEGER + 2, -0, 2 ** 31, 2 ** 53, 1e-300];
const FIELDS = [
  'email',
  'password',
  'code',
  'name',
  'birthDate',
  'sex',
  'settings',
  'patientId',
  'type',
  'userId',
  'note',
  'minutes',
  'until',
  'reason',
  'confirm',
  'kind',
  'granteeName',
  'expiresAt',
  'scope',
  'patientIds',
  'ttlDays',
  'subject',
  'text',
  'start',
  'end',
  'status',
  'practitionerId',
  'command',
  'params',
  'readings',
  'value',
  'unit',
  'ts',
  'hr',
  'spo2',
  'role',
  'displayName',
  'keepThis',
  'current',
  'next',
  'token',
  'endpoint',
  'keys',
  'severity',
  'rule',
  'resourceType',
  'id',
  'serial',
  'slotId',
  'appointmentId',
  'at',
  'durationMin',
  'attachments',
  'redirectUris',
  'onOxygen',
  'spo2Scale',
  'consciousness',
  '__proto__',
  'constructor',
];
const QUERY_KEYS = [
  'limit',
  '_offset',
  '_count',
  'offset',
  'from',
  'to',
  'code',
  'patient',
  'status',
  'severity',
  'all',
  'unreviewed',
  'before',
  'maxPoints',
  'seconds',
  'since',
  'date',
  '_sort',
  'endpoint',
  'actor',
  'action',
  'outcome',
  'start',
  'end',
  'practitioner',
];

function hostileScalar(): unknown {
  switch (rnd.int(6)) {
    case 0:
    case 1:
      return rnd.pick(HOSTILE_STRINGS);
    case 2:
      return rnd.pick(HOSTILE_NUMBERS);
    case 3:
      return rnd.pick([true, false, null]);
    case 4:
      return String(rnd.int(1e6));
    default:
      return new Date(rnd.int(2e12)).toISOString();
  }
}
function hostileValue(depth = 0): unknown {
  const r = rnd.int(10);
  if (depth > 2 || r < 6) return hostileScalar();
  if (r < 8) return Array.from({ length: rnd.pick([0, 1, 3, 200]) }, () => hostileValue(depth + 1));
  return hostileObject(depth + 1);
}
function hostileObject(depth = 0): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = rnd.int(5); i >= 0; i--) o[rnd.chance(0.85) ? rnd.pick(FIELDS) : rnd.pick(HOSTILE_STRINGS).slice(0, 200)] = hostileValue(depth);
  return o;
}
/** A body as sent on the wire: mostly JSON of hostile values, sometimes broken or pathological JSON. */
function hostileBody(): { text: string; type: string } {
  const r = rnd.int(20);
  if (r === 0) return { text: rnd.pick(['{', '{"a":', '[', '"', '{"email":"a"}}', 'nul', '1e999999', '\u0000', '{"a":1,"a":2}']), type: 'application/json' };
  if (r === 1) return { text: '['.repeat(5_000) + ']'.repeat(5_000), type: 'application/json' };
  if (r === 2) return { text: JSON.stringify({ a: 'x'.repeat(rnd.pick([1_000, 200_000])) }), type: 'application/json' };
  if (r === 3) return { text: 'email=a&password=b', type: rnd.pick(['text/plain', 'application/x-www-form-urlencoded']) };
  if (r === 4) return { text: JSON.stringify(hostileValue()), type: 'application/json' };
  return { text: JSON.stringify(hostileObject()), type: 'application/json' };
}
/** Percent-encodes; a lone surrogate (not encodable) goes out as the invalid UTF-8 it would be (%ED%A0%80). */
const enc = (v: unknown) => {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? '');
  try {
    return encodeURIComponent(s).slice(0, 3_000);
  } catch {
    return encodeURIComponent(s.replace(/[\uD800-\uDFFF]/g, '')).slice(0, 3_000) + '%ED%A0%80';
  }
};

let app: TestApp;
let tokens: Record<'admin' | 'clinician' | 'patient' | 'none', string>;
let patientId: string;
let otherPatientId: string;
let device: { id: string; secret: string };
const failures: string[] = [];
let cases = 0;

/** What must not move when a write is refused: every table a request could change (not the audit log, sessions or token touch times). */
const DIGEST_SQL = `SELECT
  (SELECT md5(coalesce(string_agg(row_to_json(t)::text, '|' ORDER BY t.id), '')) FROM patients t) AS patients,
  (SELECT md5(coalesce(string_agg(t.id || t.email || t.role || coalesce(t.disabled_at::text, '') || coalesce(t.password_hash, ''), '|' ORDER BY t.id), '')) FROM users t) AS users,
  (SELECT md5(coalesce(string_agg(t.id || coalesce(t.revoked_at::text, '') || coalesce(t.expires_at::text, ''), '|' ORDER BY t.id), '')) FROM api_tokens t) AS tokens,
  (SELECT md5(coalesce(string_agg(row_to_json(t)::text, '|' ORDER BY t.id), '')) FROM devices t) AS devices,
  (SELECT count(*) FROM readings) AS readings, (SELECT count(*) FROM care_team_members) AS care_team, (SELECT count(*) FROM alert_rule_versions) AS rules,
  (SELECT count(*) FROM device_commands) AS commands, (SELECT count(*) FROM message_threads) AS threads, (SELECT count(*) FROM messages) AS messages,
  (SELECT count(*) FROM appointments) AS appointments, (SELECT count(*) FROM availability) AS availability, (SELECT count(*) FROM consents) AS consents,
  (SELECT count(*) FROM emergency_access) AS emergency, (SELECT count(*) FROM mfa_factors) AS mfa, (SELECT count(*) FROM smart_clients) AS smart_clients,
  (SELECT count(*) FROM alerts) AS alerts, (SELECT count(*) FROM patient_keys) AS keys`;
const digest = async () => JSON.stringify((await app.services.db.query(DIGEST_SQL))[0]);

async function send(label: string, method: string, path: string, who: keyof typeof tokens, body?: { text: string; type: string }) {
  cases++;
  const write = method !== 'GET' && method !== 'HEAD';
  const before = write ? await digest() : '';
  let status = 0;
  try {
    const res = await fetch(app.httpUrl + path, {
      method,
      headers: { ...(tokens[who] ? { authorization: `Bearer ${tokens[who]}` } : {}), ...(body ? { 'content-type': body.type } : {}) },
      body: body && write ? body.text : undefined,
      signal: AbortSignal.timeout(20_000),
    });
    status = res.status;
    const text = await res.text();
    // FHIR's "this interaction is not supported" (501 + OperationOutcome not-supported, e.g. DELETE [base]) is a
    // deliberate answer (FHIR R4 http.html), not a failure; any other 5xx is.
    if (status === 501 && path.startsWith('/fhir/') && text.includes('"not-supported"')) status = 405;
  } catch (err) {
    failures.push(`${label}: ${method} ${path.slice(0, 200)} → no answer (${(err as Error).message})`);
    return;
  }
  const sample = body ? ` body=${body.text.slice(0, 160)}` : '';
  if (status >= 500) failures.push(`${label}: ${method} ${path.slice(0, 200)} as ${who} → ${status}${sample}`);
  if (write && status >= 400 && status < 500) {
    const after = await digest();
    if (after !== before) failures.push(`${label}: refused ${method} ${path.slice(0, 200)} as ${who} (${status}) changed stored data${sample}`);
  }
}

beforeAll(async () => {
  app = await bootApp();
  const admin = await app.tokenFor('admin');
  patientId = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Fuzz Target', birthDate: '1950-01-02' })).body.id;
  otherPatientId = (await app.api<{ id: string }>(admin.token, 'POST', '/api/v1/patients', { name: 'Fuzz Bystander' })).body.id;
  device = (await app.api<{ id: string; secret: string }>(admin.token, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
  tokens = { admin: admin.token, clinician: (await app.tokenFor('clinician')).token, patient: (await app.tokenFor('patient', { patientId })).token, none: '' };
}, 180_000);
afterAll(async () => app?.stop());

describe(`fuzz (seed ${SEED}, scale ${SCALE})`, () => {
  it('every registered route: hostile params, queries and bodies → no 5xx, refused writes change nothing', async () => {
    const routes = app.routes
      .routes()
      .filter(isApiRoute)
      .filter((r) => r.method !== 'HEAD' && !r.websocket && r.method !== 'OPTIONS');
    expect(routes.length).toBeGreaterThan(80);
    const perRoute = Math.max(2, Math.round(10 * SCALE));
    for (const r of routes) {
      for (let i = 0; i < perRoute; i++) {
        const method = rnd.pick(r.method.split(','));
        const path = r.url.replace(/\*$/, enc(rnd.pick(HOSTILE_STRINGS))).replace(/:(\w+)/g, (_m, name: string) => {
          if (name === 'id' && r.url.startsWith('/api/v1/patients') && rnd.chance(0.5)) return rnd.chance(0.8) ? patientId : otherPatientId;
          if (name === 'id' && r.url.includes('/devices/') && rnd.chance(0.5)) return device.id;
          if (name === 'type') return rnd.pick(['Patient', 'Observation', 'Device', 'Communication', 'Appointment', 'Encounter', 'AuditEvent', 'Nope', '..']);
          return enc(rnd.pick(HOSTILE_STRINGS)) || 'x';
        });
        const query = Array.from(
          { length: rnd.int(4) },
          () => `${rnd.chance(0.9) ? rnd.pick(QUERY_KEYS) : enc(rnd.pick(HOSTILE_STRINGS))}=${enc(hostileScalar())}`,
        ).join('&');
        const who = rnd.chance(0.7) ? 'admin' : rnd.pick(['clinician', 'patient', 'none'] as const);
        await send(
          `route ${r.method} ${r.url} #${i}`,
          method,
          path + (query ? `?${query}` : ''),
          who,
          method === 'GET' || (method === 'DELETE' && rnd.chance(0.5)) ? undefined : hostileBody(),
        );
      }
    }
    expect(failures, failures.slice(0, 30).join('\n')).toEqual([]);
  }, 600_000);

  it('every FHIR type: hostile search parameters, modifiers, prefixes and paging → no 5xx', async () => {
    const cap = (await (await fetch(app.httpUrl + '/fhir/R4/metadata')).json()) as {
      rest: Array<{ resource: Array<{ type: string; searchParam?: Array<{ name: string }> }> }>;
    };
    const types = cap.rest[0].resource;
    expect(types.length).toBeGreaterThan(3);
    const common = [
      '_id',
      '_count',
      '_offset',
      '_sort',
      '_include',
      '_revinclude',
      '_summary',
      '_elements',
      '_lastUpdated',
      '_total',
      '_format',
      '_has:Observation:patient:code',
    ];
    const prefixes = ['', 'eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap', 'zz'];
    const modifiers = ['', ':exact', ':contains', ':missing', ':not', ':text', ':above', ':below', ':Patient', ':identifier', '.name', ':bogus'];
    const n = Math.round(600 * SCALE);
    for (let i = 0; i < n; i++) {
      const t = rnd.pick(types);
      const names = [...(t.searchParam ?? []).map((s) => s.name), ...common];
      const params = Array.from({ length: 1 + rnd.int(3) }, () => {
        const value = rnd.chance(0.5)
          ? rnd.pick(prefixes) + String(hostileScalar())
          : rnd.pick([`Patient/${patientId}`, `Patient/${otherPatientId}`, 'http://loinc.org|8867-4', '|', '||', 'a,b,,c', '-date', '*', '1e9', '-1']);
        return `${enc(rnd.pick(names) + rnd.pick(modifiers))}=${enc(value)}`;
      });
      if (rnd.chance(0.2)) params.push(params[0]); // a repeated parameter
      const who = rnd.chance(0.6) ? 'admin' : rnd.pick(['clinician', 'patient'] as const);
      await send(`fhir ${t.type} #${i}`, 'GET', `/fhir/R4/${t.type}?${params.join('&')}`, who);
    }
    expect(failures, failures.slice(0, 30).join('\n')).toEqual([]);
  }, 600_000);

  it('a device sends hostile payloads over MQTT: acknowledged or refused, never a dropped connection; the bystander is untouched', async () => {
    // A fresh device: the route fuzz may legitimately have rotated the first one's secret (POST /devices/:id/secret).
    device = (await app.api<{ id: string; secret: string }>(tokens.admin, 'POST', '/api/v1/devices', { patientId, type: 'pulse-oximeter' })).body;
    const bystander = async () => JSON.stringify(await app.services.db.query('SELECT count(*) AS n FROM readings WHERE patient_id = $1', [otherPatientId]));
    const before = await bystander();
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, {
      username: device.id,
      password: device.secret,
      clientId: device.id,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    let closed = false;
    let last = '';
    c.on('close', () => {
      if (!closed) failures.push(`mqtt: the broker dropped the device after ${last}`);
      closed = true;
    });
    const kinds = ['telemetry', 'status', 'ecg', 'commands/cmd_x/result'];
    const n = Math.round(400 * SCALE);
    for (let i = 0; i < n && !closed; i++) {
      cases++;
      const r = rnd.int(10);
      let payload: string | Buffer;
      if (r === 0) payload = Buffer.from(Array.from({ length: rnd.int(2_000) }, () => rnd.int(256)));
      else if (r === 1) payload = rnd.pick(['', '{', 'null', '[]', '1e999', '\u0000', '"x"', '{"readings":null}']);
      else if (r < 5)
        payload = JSON.stringify({
          readings: Array.from({ length: rnd.pick([1, 3, 50]) }, () => ({
            code: rnd.chance(0.5) ? '8867-4' : hostileScalar(),
            value: hostileScalar(),
            unit: hostileScalar(),
            ts: rnd.chance(0.5) ? rnd.pick(HOSTILE_NUMBERS) : hostileScalar(),
          })),
        });
      else if (r < 8)
        payload = JSON.stringify({
          hr: hostileScalar(),
          spo2: hostileScalar(),
          ts: rnd.pick([...HOSTILE_NUMBERS, ...HOSTILE_STRINGS.slice(0, 10)]),
          patientId: otherPatientId,
        });
      else payload = JSON.stringify(hostileObject());
      // Over the packet ceiling the broker must close (MQTT 3.1.1 has no other refusal; security.mqtt.test.ts): not this test's case.
      if (Buffer.byteLength(payload) > MQTT_LIMITS.maxPacketBytes - 1024) payload = payload.slice(0, 50_000);
      const topic = `vigil/v1/devices/${device.id}/${rnd.pick(kinds)}`;
      last = `#${i} ${topic} (${payload.length} bytes) payload=${String(payload).slice(0, 200)}`;
      try {
        // QoS 1 must be acknowledged: a device that never gets its PUBACK resends for ever (F9).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          c.publishAsync(topic, payload, { qos: rnd.pick([0, 1] as const) }),
          new Promise((_r, reject) => (timer = setTimeout(() => reject(new Error('no PUBACK in 10 s')), 10_000))),
        ]).finally(() => clearTimeout(timer));
      } catch (err) {
        failures.push(`mqtt #${i}: ${topic} publish failed (${(err as Error).message}) payload=${String(payload).slice(0, 160)}`);
        if (failures.length > 5) break;
      }
    }
    expect(failures, failures.slice(0, 30).join('\n')).toEqual([]);
    await c.publishAsync(`vigil/v1/devices/${device.id}/telemetry`, JSON.stringify({ hr: 72 }), { qos: 1 }); // still served
    expect(closed, 'the broker dropped the device').toBe(false);
    closed = true; // our own disconnect from here on
    await c.endAsync();
    expect(await bystander()).toBe(before);
    expect(failures, failures.slice(0, 30).join('\n')).toEqual([]);
  }, 600_000);

  it('the server is still up and its audit trail verifies', async () => {
    const health = await fetch(app.httpUrl + '/health');
    expect(health.status).toBe(200);
    expect((await app.services.audit.verify()).bad).toEqual([]);
    expect(cases).toBeGreaterThan(1_500 * Math.min(1, SCALE));
    console.log(`fuzz: ${cases} cases, seed ${SEED}`);
  }, 600_000);
});
