/**
 * Web Push for real: a browser-side key pair and auth secret (as PushManager makes them), a local HTTP
 * server standing in for the push service that checks the VAPID JWT and decrypts the aes128gcm body with
 * the browser's private key (RFC 8291, implemented here independently of the sender).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, verify } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { encryptPayload, loadVapidKeys, vapidAuthorization, createWebPushChannel, SubscriptionGoneError } from '../src/alerts/delivery/webpush.channel.ts';

/** What a browser does on receipt (RFC 8291 §3.4 + RFC 8188). */
function decrypt(body: Buffer, ua: ReturnType<typeof createECDH>, auth: Buffer): string {
  const salt = body.subarray(0, 16);
  const idlen = body.readUInt8(20);
  const asPublic = body.subarray(21, 21 + idlen);
  const ciphertext = body.subarray(21 + idlen);
  const secret = ua.computeSecret(asPublic);
  const ikm = Buffer.from(hkdfSync('sha256', secret, auth, Buffer.concat([Buffer.from('WebPush: info\0'), ua.getPublicKey(), asPublic]), 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const d = createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const plain = Buffer.concat([d.update(ciphertext.subarray(0, ciphertext.length - 16)), d.final()]);
  expect(plain[plain.length - 1]).toBe(2); // last-record delimiter
  return plain.subarray(0, plain.length - 1).toString();
}

/** Checks `vapid t=…, k=…`: ES256 signature by k, audience = the push service origin, not expired. */
function checkVapid(header: string, origin: string): boolean {
  const [, jwt, k] = header.match(/^vapid t=([^,]+), k=(.+)$/) ?? [];
  if (!jwt || !k) return false;
  const [h, c, sig] = jwt.split('.');
  const point = Buffer.from(k, 'base64url');
  const key = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') },
    format: 'jwk',
  });
  const claims = JSON.parse(Buffer.from(c!, 'base64url').toString());
  return (
    verify('sha256', Buffer.from(`${h}.${c}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(sig!, 'base64url')) &&
    claims.aud === origin &&
    claims.exp > Date.now() / 1000
  );
}

describe('Web Push (VAPID + aes128gcm) with node:crypto', () => {
  let dir: string;
  let server: Server;
  let origin: string;
  const received: Array<{ headers: Record<string, unknown>; body: Buffer }> = [];
  let status = 201;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-push-'));
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks) });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps one VAPID key pair per data dir', async () => {
    const a = await loadVapidKeys(dir);
    const b = await loadVapidKeys(dir);
    expect(a.publicKey).toBe(b.publicKey);
    expect(Buffer.from(a.publicKey, 'base64url')).toHaveLength(65);
    expect(checkVapid(vapidAuthorization(a, `${origin}/push/x`, 'mailto:a@b.c', Date.now()), origin)).toBe(true);
  });

  it('delivers an encrypted alert that only the subscribed browser can read', async () => {
    const ua = createECDH('prime256v1');
    ua.generateKeys();
    const auth = randomBytes(16);
    const subscription = { endpoint: `${origin}/push/abc`, keys: { p256dh: ua.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } };
    const channel = createWebPushChannel({ keys: await loadVapidKeys(dir), subject: 'mailto:alerts@vigil.local', now: Date.now });
    const message = { title: 'Critical: Ada', body: 'SPO2 85 %', alertId: 'alr_1', severity: 'critical' };
    await channel.send({
      id: '1',
      idempotencyKey: 'k',
      alertId: 'alr_1',
      userId: 'u',
      channel: 'webpush',
      target: subscription.endpoint,
      attempts: 1,
      payload: { subscription, message, urgency: 'high' },
    });
    const [got] = received;
    expect(got!.headers).toMatchObject({ 'content-encoding': 'aes128gcm', urgency: 'high', ttl: '86400' });
    expect(checkVapid(String(got!.headers.authorization), origin)).toBe(true);
    expect(JSON.parse(decrypt(got!.body, ua, auth))).toEqual(message);
    const other = createECDH('prime256v1');
    other.generateKeys();
    expect(() => decrypt(got!.body, other, auth)).toThrow();
  });

  it('a 410 from the push service means the subscription is gone (no retry)', async () => {
    status = 410;
    const ua = createECDH('prime256v1');
    ua.generateKeys();
    const subscription = {
      endpoint: `${origin}/push/gone`,
      keys: { p256dh: ua.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') },
    };
    const channel = createWebPushChannel({ keys: await loadVapidKeys(dir), subject: 'mailto:a@b.c', now: Date.now });
    await expect(
      channel.send({
        id: '2',
        idempotencyKey: 'k2',
        alertId: 'a',
        userId: 'u',
        channel: 'webpush',
        target: subscription.endpoint,
        attempts: 1,
        payload: { subscription, message: {} },
      }),
    ).rejects.toBeInstanceOf(SubscriptionGoneError);
    expect(encryptPayload(subscription, Buffer.from('x')).length).toBeGreaterThan(86);
  });
});
