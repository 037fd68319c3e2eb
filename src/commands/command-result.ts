/** A device's answer on `…/commands/{id}/result` (interfaces.md §3): `{"status": "done" | "failed", "message"}`. */
export interface CommandResult {
  status: 'done' | 'failed';
  message: string | null;
}

const MAX_MESSAGE_CHARS = 500; // a device message is shown on screen and audited, not stored as a blob

/** Never throws: an answer Vigil cannot read still ends the command, as failed, saying why. */
export function parseCommandResult(payload: string): CommandResult {
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return { status: 'failed', message: 'the device answered with malformed JSON' };
  }
  if (typeof body !== 'object' || body === null) return { status: 'failed', message: 'the device answer is not a JSON object' };
  const { status, message } = body as { status?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message.slice(0, MAX_MESSAGE_CHARS) : null;
  if (status === 'done' || status === 'failed') return { status, message: text };
  return { status: 'failed', message: `the device answered with an unknown status ${JSON.stringify(status)}${text ? `: ${text}` : ''}` };
}
