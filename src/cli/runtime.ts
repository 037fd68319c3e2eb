import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
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
  const file = serverFile(dataDir);
  await writeFile(file, JSON.stringify(info), { mode: 0o600 });
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
