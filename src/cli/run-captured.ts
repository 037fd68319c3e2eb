import { PassThrough, Readable } from 'node:stream';
import { runCli } from './index.ts';

/** Runs the CLI in-process with `stdinText` on stdin and returns the exit code and what it wrote (for tests). */
export async function runCliCaptured(argv: string[], stdinText = ''): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  const code = await runCli(argv, { stdin: Readable.from([stdinText]), stdout, stderr });
  return { code, out, err };
}
