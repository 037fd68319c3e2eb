import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../config/config.ts';

/**
 * ONC §170.315(d)(9) trusted connection: the certificate and key Vigil serves HTTPS and MQTTS with
 * (VIGIL_TLS_CERT, VIGIL_TLS_KEY: PEM files, e.g. from Let's Encrypt). Read once at start; a missing or
 * mismatched file is a one-line error naming the setting.
 */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  mqttsPort: number;
}

export async function loadTls(tls: { certFile: string; keyFile: string; mqttsPort: number }): Promise<TlsMaterial> {
  const read = async (file: string, setting: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new ConfigError(setting, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const cert = await read(tls.certFile, 'VIGIL_TLS_CERT');
  const key = await read(tls.keyFile, 'VIGIL_TLS_KEY');
  try {
    createSecureContext({ cert, key }); // throws when the key does not match the certificate, or is not PEM
  } catch (err) {
    throw new ConfigError('VIGIL_TLS_KEY', `the key and certificate do not form a usable pair (${(err as Error).message})`);
  }
  return { cert, key, mqttsPort: tls.mqttsPort };
}
