import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { CliError, parseArgs, type CliCommand, type CliIo } from './command.ts';
import { safeMessage } from './safe-text.ts';

const COMMANDS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'commands');

export async function loadCommands(): Promise<CliCommand[]> {
  const files = (await readdir(COMMANDS_DIR)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  const modules = await Promise.all(files.map((f) => import(pathToFileURL(path.join(COMMANDS_DIR, f)).href)));
  return modules.map((m) => m.default as CliCommand).sort((a, b) => a.name.localeCompare(b.name));
}

function overview(commands: CliCommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: vigil <command> [options]   (every command takes --help and --json)',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
  ].join('\n');
}

/** Runs the CLI; returns the exit code. The longest verb matching the leading words wins. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const commands = await loadCommands();
  const words = argv.filter((a) => !a.startsWith('-'));
  let command: CliCommand | undefined;
  let used = 0;
  for (const c of commands) {
    const parts = c.name.split(' ');
    if (parts.length > used && parts.every((p, i) => words[i] === p)) {
      command = c;
      used = parts.length;
    }
  }
  if (!command) {
    if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
      io.stdout.write(overview(commands));
      return argv.length === 0 ? 1 : 0;
    }
    io.stderr.write(`vigil: unknown command "${words.join(' ')}"; run "vigil --help" for the list\n`);
    return 2;
  }
  // Drop the verb words (they are the first `used` non-flag words).
  const rest = [...argv];
  for (let removed = 0, i = 0; removed < used && i < rest.length;) {
    if (!rest[i].startsWith('-')) {
      rest.splice(i, 1);
      removed++;
    } else i++;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.help.trimEnd() + '\n');
    return 0;
  }
  try {
    return await command.run(parseArgs(rest, command.switches), io);
  } catch (err) {
    // Messages may quote the user's file (a header line, a column name): escaped and shortened, one line.
    if (err instanceof CliError) {
      io.stderr.write(`vigil ${command.name}: ${safeMessage(err.message)}\n`);
      return err.exitCode;
    }
    if (err && typeof err === 'object' && 'userMessage' in err) {
      io.stderr.write(`vigil ${command.name}: ${safeMessage((err as { userMessage: string }).userMessage)}\n`);
      return 1;
    }
    throw err;
  }
}
