import { closeSync, constants, createWriteStream, fchmodSync, openSync, type WriteStream } from 'node:fs';
import { access, chmod, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, ConfigError, type Config } from '../config/config.ts';
import { CliError } from './command.ts';

/** Config for a CLI verb; a bad setting is a one-line error naming it. */
export function cliConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
}

/** Written by a running server so that CLI verbs can reach it (the embedded database allows one process). */
export interface ServerFile {
  pid: number;
  url: string;
  /** An admin API token for local CLI use; the file is readable only by its owner (0600). */
  token: string;
}

const serverFile = (dataDir: string) => path.join(dataDir, 'server.json');

export async function writeServerFile(dataDir: string, info: ServerFile) {
  await writeOwnerOnly(serverFile(dataDir), JSON.stringify(info));
}

/** Created 0600, and an existing file made so too (writeFile keeps the mode of a file it overwrites). */
async function writeOwnerOnly(file: string, data: string) {
  await writeFile(file, data, { mode: 0o600 });
  await chmod(file, 0o600);
}

export async function removeServerFile(dataDir: string) {
  await rm(serverFile(dataDir), { force: true });
}

/** The running server for this data dir, if there is one and it answers. */
export async function findRunningServer(dataDir: string): Promise<ServerFile | null> {
  let info: ServerFile;
  try {
    info = JSON.parse(await readFile(serverFile(dataDir), 'utf8')) as ServerFile;
  } catch {
    return null;
  }
  try {
    process.kill(info.pid, 0);
  } catch {
    return null; // stale file from a crashed server
  }
  try {
    const res = await fetch(`${info.url}/health`, { signal: AbortSignal.timeout(3000) });
    return res.status < 500 || res.status === 503 ? info : null;
  } catch {
    return null;
  }
}

/** Writes a progress-free one-line summary or the JSON form. */
export function print(io: { stdout: NodeJS.WritableStream }, json: boolean, value: unknown, human: string) {
  io.stdout.write(json ? JSON.stringify(value) + '\n' : human.trimEnd() + '\n');
}

/*
 * Files the CLI writes hold patient data (exports, reports, rejected rows): created readable only by their
 * owner (0600), and an existing file is made so too (open keeps the mode of a file it truncates).
 */

const reason = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/** `what: cannot write FILE: ENOENT` (what: the flag that named it). */
export const cannotWrite = (what: string, file: string, err: unknown) => new CliError(`${what}: cannot write ${file}: ${reason(err)}`);

/** A write stream on FILE (created or truncated, 0600); a file that cannot be opened is a CliError naming it. */
export async function openPrivateFile(file: string, what: string): Promise<WriteStream> {
  const fh = await open(file, 'w', 0o600).catch((err: unknown) => {
    throw cannotWrite(what, file, err);
  });
  try {
    await fh.chmod(0o600);
  } catch (err) {
    await fh.close();
    throw cannotWrite(what, file, err);
  }
  return fh.createWriteStream();
}

/** The synchronous form, for a file created at the first line written to it; throws the fs error. */
export function openPrivateFileSync(file: string): WriteStream {
  const fd = openSync(file, 'w', 0o600);
  try {
    fchmodSync(fd, 0o600);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return createWriteStream('', { fd });
}

export async function writePrivateFile(file: string, data: string, what: string): Promise<void> {
  await writeOwnerOnly(file, data).catch((err: unknown) => {
    throw cannotWrite(what, file, err);
  });
}

/** Fails, naming FILE, when it could not be written (its directory missing, or not writable), without creating it. */
export async function checkWritable(file: string, what: string): Promise<void> {
  try {
    const existing = await stat(file).catch(() => null);
    if (existing?.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    await access(existing ? file : path.dirname(path.resolve(file)), constants.W_OK);
  } catch (err) {
    throw cannotWrite(what, file, err);
  }
}
