/**
 * The shape of one CLI verb. Each file in `commands/` default-exports one `CliCommand`;
 * `index.ts` discovers them, so adding a verb never touches a shared list.
 */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
}

export interface ParsedArgs {
  /** Positional arguments after the verb words. */
  positionals: string[];
  /** `--flag value` and `--flag` (true) options; repeated flags keep the last value. */
  flags: Record<string, string | boolean>;
  /** `--json`: print one machine-readable JSON document instead of human text. */
  json: boolean;
}

export interface CliCommand {
  /** Verb words, e.g. `ecg detect` or `start`. */
  name: string;
  /** One line for `vigil --help`. */
  summary: string;
  /** Full usage text for `vigil <verb> --help`. */
  help: string;
  /** Flags of this verb that take no value (`--json` and `--help` always are): never swallow the next word. */
  switches?: string[];
  /** Returns the process exit code. Throw `CliError` for a one-line user-facing failure. */
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

/** A failure the user caused or can fix: printed as one line, no stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** Flags that never take a value, whatever follows them: `--json RECORD` keeps RECORD a positional. */
const SWITCHES = ['json', 'help'];

export function parseArgs(argv: string[], switches: string[] = []): ParsedArgs {
  const isSwitch = (key: string) => SWITCHES.includes(key) || switches.includes(key);
  const positionals: string[] = [];
  const flags: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq > 0) {
        flags[arg.slice(2, eq)] = arg.slice(eq + 1);
        continue;
      }
      const key = arg.slice(2);
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--') && !isSwitch(key)) {
        flags[key] = next;
        i++;
      } else {
        flags[key] = true;
      }
    } else {
      positionals.push(arg);
    }
  }
  const json = flags.json === true;
  delete flags.json;
  return { positionals, flags, json };
}

/** Reads a required string flag or fails with a message naming it. */
export function requireFlag(args: ParsedArgs, name: string): string {
  const value = args.flags[name];
  if (typeof value !== 'string' || value === '') throw new CliError(`missing --${name}`);
  return value;
}

export function writeJson(io: CliIo, value: unknown): void {
  io.stdout.write(JSON.stringify(value) + '\n');
}
