import { useEffect, useState } from 'react';
import { useLiveStream } from '../../api/useLiveStream.ts';
import { deviceCommands, describeReadings, isFinal, type DeviceCommandView } from './deviceCommands.ts';

const POLL_MS = 2_000; // backstop for a missed live message; the live stream normally updates first

const LABEL: Record<DeviceCommandView['status'], string> = {
  queued: 'Queued until the device connects',
  sent: 'Measuring…',
  done: 'Done',
  failed: 'Failed',
  expired: 'No answer',
};
const PILL: Record<DeviceCommandView['status'], string> = {
  queued: 'pill-grey',
  sent: 'pill-grey',
  done: 'pill-green',
  failed: 'pill-amber',
  expired: 'pill-amber',
};

/** "Measure now" for one device (clinicians and admins), with the command's status as it changes. */
export function MeasureNowButton({ deviceId }: { deviceId: string }) {
  const [command, setCommand] = useState<Pick<DeviceCommandView, 'id' | 'status' | 'message' | 'readings'> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const busy = command !== null && !isFinal(command);

  useLiveStream((m) => {
    if (m.type === 'command' && m.command.id === command?.id) setCommand(m.command);
  });

  // Poll while the command is in flight (the live stream usually answers first).
  const pendingId = command && !isFinal(command) ? command.id : null;
  useEffect(() => {
    if (!pendingId) return;
    const timer = setInterval(() => void deviceCommands.get(pendingId).then(setCommand, () => undefined), POLL_MS);
    return () => clearInterval(timer);
  }, [pendingId]);

  const measure = async () => {
    setError(null);
    try {
      const created = await deviceCommands.send(deviceId, 'MEASURE');
      setCommand({ id: created.id, status: created.status, message: null, readings: [] });
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const result = command?.status === 'done' && command.readings.length > 0 ? describeReadings(command.readings) : command?.message;
  return (
    <span className="device-command" style={{ display: 'inline-flex', alignItems: 'center', gap: 8 }}>
      {command ? (
        <span
          className={`pill ${PILL[command.status]}`}
          title={command.message ?? undefined}
          style={{ maxWidth: 220, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}
        >
          {LABEL[command.status]}
          {isFinal(command) && result ? `: ${result}` : ''}
        </span>
      ) : null}
      {error ? (
        <span className="small muted" role="alert">
          {error}
        </span>
      ) : null}
      <button type="button" className="btn btn-sm" disabled={busy} onClick={() => void measure()}>
        Measure now
      </button>
    </span>
  );
}
