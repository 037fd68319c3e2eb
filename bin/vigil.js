#!/usr/bin/env node
// The `vigil` command (package.json bin). Runs the TypeScript sources through tsx's loader so that the
// CLI, the server and the tests execute the same code with no build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/index.ts');
const code = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
if (code !== 0 || process.argv[2] !== 'start') process.exitCode = code;
