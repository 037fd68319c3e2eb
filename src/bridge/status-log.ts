/**
 * Progress and status lines for the person at the bedside PC: one plain sentence per line on stderr,
 * timestamped, no JSON, no stack traces ("serial /dev/ttyUSB0 closed (cable pulled?); retrying in 2 s").
 */
export type StatusLog = (message: string) => void;

export function stderrStatus(stream: NodeJS.WritableStream = process.stderr): StatusLog {
  return (message) => stream.write(`${new Date().toISOString().slice(0, 19).replace('T', ' ')}  bridge: ${message}\n`);
}

export const silentStatus: StatusLog = () => undefined;
