import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../errors.ts';

/**
 * Secret key material kept OUTSIDE the database (HIPAA §164.312(a)(2)(iv); ONC §170.315(d)(2)'s HMAC key):
 * `<dataDir>/keys/<name>.key`, a 0600 file in a 0700 directory, created with fresh random bytes at first
 * start. One base64 key per line: the first is current, later lines are previous keys still accepted for
 * reading (so a key can be rotated without downtime). An environment variable (comma-separated base64, first
 * current) replaces the file, e.g. when a secrets manager injects it.
 */
export interface KeyRing {
  current: Buffer;
  all: Buffer[];
  source: 'env' | 'file';
}

export const KEY_BYTES = 32;

export function keysDir(dataDir: string): string {
  return path.join(dataDir, 'keys');
}

function parseKeys(text: string, where: string): Buffer[] {
  const keys = text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s && !s.startsWith('#'))
    .map((s) => Buffer.from(s, 'base64'));
  if (keys.length === 0) throw new AppError('UNAVAILABLE', `${where}: no key found`);
  for (const k of keys)
    if (k.length !== KEY_BYTES) throw new AppError('UNAVAILABLE', `${where}: every key must be ${KEY_BYTES} bytes in base64 (openssl rand -base64 32)`);
  return keys;
}

/** Reads the key ring from `envValue` when set, else from the key file, creating it on first use. */
export async function loadKeyRing(dataDir: string, name: string, envName: string, envValue: string | undefined): Promise<KeyRing> {
  if (envValue && envValue.trim()) {
    const all = parseKeys(envValue, envName);
    return { current: all[0], all, source: 'env' };
  }
  const dir = keysDir(dataDir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const file = path.join(dir, `${name}.key`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
    const mode = (await stat(file)).mode & 0o777;
    if (mode & 0o077) await chmod(file, 0o600); // tighten a copied-in file rather than leave it readable
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    text = randomBytes(KEY_BYTES).toString('base64') + '\n';
    // 'wx': never overwrite a key another process created meanwhile; losing a key loses the data under it.
    await writeFile(file, text, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
      text = await readFile(file, 'utf8');
    });
  }
  const all = parseKeys(text, file);
  return { current: all[0], all, source: 'file' };
}

/** Puts a new random key first in the file, keeping the old ones for reading (step 1 of a rotation). */
export async function addKeyToFile(dataDir: string, name: string): Promise<Buffer> {
  const file = path.join(keysDir(dataDir), `${name}.key`);
  const old = await readFile(file, 'utf8');
  const key = randomBytes(KEY_BYTES);
  await writeFile(file, key.toString('base64') + '\n' + old, { mode: 0o600 });
  await chmod(file, 0o600);
  return key;
}

/** Drops every key but the current one (step 3 of a rotation, once nothing is wrapped under the old ones). */
export async function retireOldKeys(dataDir: string, name: string): Promise<void> {
  const file = path.join(keysDir(dataDir), `${name}.key`);
  const [current] = parseKeys(await readFile(file, 'utf8'), file);
  await writeFile(file, current.toString('base64') + '\n', { mode: 0o600 });
}
