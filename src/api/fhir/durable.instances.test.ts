/**
 * Two Vigil instances on one PostgreSQL (issue 10): a Bulk export started on one is polled and downloaded
 * from the other; a job left "running" by an instance that died (what kill -9 leaves: a stale heartbeat) is
 * taken over and finished; a SMART authorization started on one instance is answered on the other, and an
 * id_token signed by one verifies with the JWKS the other publishes.
 */
import { createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootInstances, type Instances, type TestApp } from '../../../test/support/app.ts';
import { postgresAvailable, skipNote } from '../../../test/support/services.ts';
import { eventually } from '../../../test/support/eventually.ts';
import { readConsent } from '../../../test/support/smart-flow.ts';

const hasPg = await postgresAvailable();
const PUBLIC_URL = 'http://vigil.clinic.test';
if (!hasPg) skipNote('PostgreSQL (FHIR export jobs and SMART across two instances)');

describe.skipIf(!hasPg)('FHIR state shared by two instances', () => {
  let a: TestApp;
  let b: TestApp;
  let cluster: Instances | undefined;
  let admin: string;
  let patientId: string;
  beforeAll(async () => {
    // Both instances share the master and audit keys, as in production (bootInstances gives them one of each).
    // Behind one address, as instances behind a load balancer are: the SMART `aud` names that address.
    cluster = await bootInstances(2, { env: { VIGIL_PUBLIC_URL: PUBLIC_URL } });
    [a, b] = cluster.apps;
    admin = (await a.tokenFor('admin')).token;
    patientId = (await a.services.patientService.create({ name: 'Ivy Instances' }, 'system')).id;
    const dev = (await a.services.deviceService.provision({ patientId, type: 'pulse-oximeter' }, 'system')).id;
    for (let i = 0; i < 4; i++) await a.services.ingest.acceptTelemetry(dev, JSON.stringify({ ts: Date.now() - i * 1000, seq: i + 1, hr: 70 + i }));
  }, 240_000);
  afterAll(() => cluster?.stop());

  const get = (app: TestApp, token: string, url: string, headers: Record<string, string> = {}) =>
    fetch(url.startsWith('http') ? url : app.localUrl + url, { headers: { authorization: `Bearer ${token}`, ...headers } });
  const manifestFrom = async (app: TestApp, statusUrl: string) =>
    eventually(
      async () => {
        const res = await get(app, admin, statusUrl);
        return res.status === 200 ? ((await res.json()) as { output: Array<{ type: string; url: string; count: number }> }) : null;
      },
      (m) => m !== null,
      20_000,
    );

  it('starts an export on one instance and serves its status and files from the other', async () => {
    const kick = await get(a, admin, '/fhir/R4/Patient/$export?_type=Observation', { prefer: 'respond-async' });
    expect(kick.status).toBe(202);
    const statusPath = new URL(kick.headers.get('content-location')!).pathname;
    const manifest = (await manifestFrom(b, statusPath))!;
    expect(manifest.output).toEqual([expect.objectContaining({ type: 'Observation', count: 4 })]);
    const text = await (await get(b, admin, new URL(manifest.output[0].url).pathname)).text();
    expect(
      text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).valueQuantity.value)
        .sort(),
    ).toEqual([70, 71, 72, 73]);
    // Deleted through B: gone for A too.
    expect((await fetch(b.localUrl + statusPath, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } })).status).toBe(202);
    expect((await get(a, admin, statusPath)).status).toBe(404);
  });

  it('takes over a job whose instance died mid-export', async () => {
    const principal = await a.services.auth.principalFromToken(admin);
    // What an instance killed with -9 leaves behind: its job "running", a part of a file, a heartbeat that stopped.
    await a.services.db.query(
      `INSERT INTO fhir_export_jobs (id, user_id, principal, level, types, base_url, request, transaction_time, status, progress, attempts, owner, heartbeat_at)
       VALUES ('dead-job', $1, $2, 'system', ARRAY['Patient','Observation'], $3, $4, now(), 'running', 'exporting Observation (2)', 1, 'killed-instance', now() - interval '1 hour')`,
      [principal!.userId, JSON.stringify(principal), `${a.localUrl}/fhir/R4`, `${a.localUrl}/fhir/R4/$export`],
    );
    await a.services.db.query(`INSERT INTO fhir_export_parts (job_id, type, part, body) VALUES ('dead-job', 'Observation', 0, $1)`, [
      Buffer.from('{"half":"written"}\n'),
    ]);
    const manifest = (await manifestFrom(b, '/fhir/R4/$export-status/dead-job'))!;
    const obs = manifest.output.find((o) => o.type === 'Observation')!;
    expect(obs.count).toBe(4);
    const lines = (await (await get(a, admin, new URL(obs.url).pathname)).text()).trim().split('\n');
    expect(lines).toHaveLength(4); // rerun from the start: the dead instance's half-written part is gone
    expect(lines.every((l) => JSON.parse(l).resourceType === 'Observation')).toBe(true);
  });

  it('answers a SMART authorization on the other instance, with one signing key for both', async () => {
    const email = `smart-${Date.now()}@test.vigil`;
    await a.services.auth.createUser({ email, role: 'patient', password: 'correct horse battery', patientId }, 'system');
    const client = await a.api<{ id: string }>(admin, 'POST', '/api/v1/smart/apps', { name: 'Two Hosts', redirectUris: ['http://127.0.0.1:9/cb'] });
    const verifier = randomBytes(40).toString('base64url');
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: client.body.id,
      redirect_uri: 'http://127.0.0.1:9/cb',
      scope: 'openid fhirUser launch/patient patient/Observation.rs',
      state: 'x',
      aud: `${PUBLIC_URL}/fhir/R4`,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    const screen = await fetch(`${a.localUrl}/oauth/authorize?${q}`);
    const request = /name="request" value="([^"]+)"/.exec(await screen.text())![1];
    const form = (body: Record<string, string>, cookie?: string) => ({
      method: 'POST',
      redirect: 'manual' as const,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
      body: new URLSearchParams(body),
    });
    // Sign-in posted to B (the request was made on A).
    const signedIn = await fetch(`${b.localUrl}/oauth/authorize`, form({ request, action: 'sign-in', email, password: 'correct horse battery' }));
    expect(signedIn.status).toBe(200);
    const cookie = signedIn.headers.get('set-cookie')!.split(';')[0];
    const consent = /name="request" value="([^"]+)"/.exec(await signedIn.text())![1];
    // The request id works once: replaying the sign-in answer is refused.
    expect((await fetch(`${a.localUrl}/oauth/authorize`, form({ request, action: 'sign-in', email, password: 'correct horse battery' }))).status).toBe(400);
    // Consent answered on A, the code exchanged on B.
    await readConsent();
    const allowed = await fetch(`${a.localUrl}/oauth/authorize`, form({ request: consent, action: 'allow' }, cookie));
    const code = new URL(allowed.headers.get('location')!).searchParams.get('code')!;
    const token = (await (
      await fetch(
        `${b.localUrl}/oauth/token`,
        form({ grant_type: 'authorization_code', code, client_id: client.body.id, redirect_uri: 'http://127.0.0.1:9/cb', code_verifier: verifier }),
      )
    ).json()) as any;
    expect(token.patient).toBe(patientId.replace('_', '-'));
    // B signed the id_token; A's JWKS verifies it (same key, kept in the database).
    const jwks = (await (await fetch(`${a.localUrl}/.well-known/jwks.json`)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks).toEqual(await (await fetch(`${b.localUrl}/.well-known/jwks.json`)).json());
    const [h, p, sig] = token.id_token.split('.');
    const key = createPublicKey({ key: jwks.keys[0] as any, format: 'jwk' });
    expect(verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(sig, 'base64url'))).toBe(true);
    // The access token works on both instances.
    for (const app of [a, b]) expect((await get(app, token.access_token, '/fhir/R4/Observation?code=8867-4')).status).toBe(200);
    // The private key is not stored in plaintext.
    const stored = await a.services.db.query<{ private_key: string }>(`SELECT private_key FROM smart_signing_keys`);
    expect(stored[0].private_key).not.toContain('PRIVATE KEY');
  });
});
