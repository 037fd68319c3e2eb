import { createECDH, createPrivateKey, createPublicKey, generateKeyPairSync, hkdfSync, randomBytes, createCipheriv, sign, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Job } from '../notifications.repository.ts';

/**
 * Web Push with node:crypto only: VAPID (RFC 8292, an ES256 JWT) and the aes128gcm payload encryption
 * of RFC 8291 (ECDH P-256 + HKDF-SHA-256 + AES-128-GCM), posted to the subscription's push service.
 */
export interface VapidKeys {
  /** Uncompressed P-256 point (65 bytes), base64url: what the browser's `applicationServerKey` takes. */
  publicKey: string;
  privateKey: KeyObject;
}

export interface PushSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

const RECORD_SIZE = 4096; // RFC 8188 rs: one record holds any alert payload
const PUSH_TTL_S = 24 * 3600; // the push service keeps an undelivered message this long, s
const JWT_TTL_S = 12 * 3600; // RFC 8292 §2: at most 24 h
const PUSH_TIMEOUT_MS = 10_000;

const b64u = (b: Buffer) => b.toString('base64url');

/** Loads the server's VAPID key pair from the data dir, creating it (0600) on first use. */
export async function loadVapidKeys(dataDir: string): Promise<VapidKeys> {
  const file = path.join(dataDir, 'vapid-key.json');
  let jwk: { kty: string; crv: string; x: string; y: string; d: string };
  try {
    jwk = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as typeof jwk;
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, JSON.stringify(jwk), { mode: 0o600 });
  }
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  const pub = createPublicKey(privateKey).export({ format: 'jwk' }) as { x: string; y: string };
  return { privateKey, publicKey: b64u(Buffer.concat([Buffer.from([4]), Buffer.from(pub.x, 'base64url'), Buffer.from(pub.y, 'base64url')])) };
}

/** RFC 8292 §2: `vapid t=<ES256 JWT for the push service origin>, k=<public key>`. */
export function vapidAuthorization(keys: VapidKeys, endpoint: string, subject: string, nowMs: number): string {
  const header = b64u(Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'ES256' })));
  const claims = b64u(Buffer.from(JSON.stringify({ aud: new URL(endpoint).origin, exp: Math.floor(nowMs / 1000) + JWT_TTL_S, sub: subject })));
  const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key: keys.privateKey, dsaEncoding: 'ieee-p1363' });
  return `vapid t=${header}.${claims}.${b64u(signature)}, k=${keys.publicKey}`;
}

/** RFC 8291 §3–4: encrypts `plaintext` for a subscription; returns the aes128gcm body. */
export function encryptPayload(sub: PushSubscription, plaintext: Buffer, salt = randomBytes(16)): Buffer {
  const uaPublic = Buffer.from(sub.keys.p256dh, 'base64url');
  const authSecret = Buffer.from(sub.keys.auth, 'base64url');
  const ecdh = createECDH('prime256v1');
  const asPublic = ecdh.generateKeys();
  const ecdhSecret = ecdh.computeSecret(uaPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, authSecret, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const cipher = createCipheriv('aes-128-gcm', cek, nonce);
  const body = Buffer.concat([cipher.update(Buffer.concat([plaintext, Buffer.from([2])])), cipher.final(), cipher.getAuthTag()]); // 0x02: last record
  const header = Buffer.alloc(21);
  salt.copy(header, 0);
  header.writeUInt32BE(RECORD_SIZE, 16);
  header.writeUInt8(asPublic.length, 20);
  return Buffer.concat([header, asPublic, body]);
}

/** A push service answering 404/410 means the subscription is gone: not worth retrying. */
export class SubscriptionGoneError extends Error {}

export function createWebPushChannel(opts: { keys: VapidKeys; subject: string; now: () => number }) {
  return {
    async send(job: Job): Promise<void> {
      const p = job.payload as { subscription: PushSubscription; message: Record<string, unknown>; urgency?: string };
      const res = await fetch(p.subscription.endpoint, {
        method: 'POST',
        headers: {
          authorization: vapidAuthorization(opts.keys, p.subscription.endpoint, opts.subject, opts.now()),
          'content-encoding': 'aes128gcm',
          'content-type': 'application/octet-stream',
          ttl: String(PUSH_TTL_S),
          urgency: p.urgency ?? 'normal',
          topic: job.alertId.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 32), // a newer message for the alert replaces an undelivered one
        },
        body: new Uint8Array(encryptPayload(p.subscription, Buffer.from(JSON.stringify(p.message)))),
        signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
      });
      await res.body?.cancel();
      if (res.status === 404 || res.status === 410) throw new SubscriptionGoneError(`push subscription gone (${res.status})`);
      if (!res.ok) throw new Error(`push service answered ${res.status}`);
    },
  };
}
