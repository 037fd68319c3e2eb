#!/usr/bin/env node
// The `vigil` command (package.json bin). Runs the TypeScript sources through tsx's loader so that the
// CLI, the server and the tests execute the same code with no build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/index.ts');
const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
// Every verb has closed what it opened by now; exit explicitly so that a stray handle (a socket a library
// keeps alive) can never leave a finished command hanging. stdout/stderr are synchronous on Linux pipes.
process.exit(code);
