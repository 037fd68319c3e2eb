import type { Db, Queryable } from '../platform/db.ts';
import type { CommandStatus, DeviceCommand, LinkedReading } from './command.types.ts';

interface CommandRow {
  id: string;
  device_id: string;
  patient_id: string | null;
  name: string;
  args: Record<string, unknown>;
  status: string;
  requested_by: string;
  message: string | null;
  attempts: number;
  ack_timeout_ms: number;
  created_at: Date | string;
  sent_at: Date | string | null;
  completed_at: Date | string | null;
  expires_at: Date | string;
}

const ms = (t: Date | string | null): number | null => (t === null ? null : new Date(t).getTime());
const iso = (t: number) => new Date(t).toISOString();

const toCommand = (r: CommandRow): DeviceCommand => ({
  id: r.id,
  deviceId: r.device_id,
  patientId: r.patient_id,
  name: r.name as DeviceCommand['name'],
  args: typeof r.args === 'string' ? JSON.parse(r.args) : r.args,
  status: r.status as CommandStatus,
  requestedBy: r.requested_by,
  message: r.message,
  attempts: r.attempts,
  ackTimeoutMs: r.ack_timeout_ms,
  createdAt: ms(r.created_at)!,
  sentAt: ms(r.sent_at),
  completedAt: ms(r.completed_at),
  expiresAt: ms(r.expires_at)!,
});

/** SQL for device commands, and nothing else. Every transition is conditional on the current status. */
export function createCommandsRepository(db: Db) {
  return {
    /** Writes that change a command's outcome take an optional transaction (`q`): they commit with their audit entry. */
    async insert(c: DeviceCommand, q: Queryable = db): Promise<void> {
      await q.query(
        `INSERT INTO device_commands (id, device_id, patient_id, name, args, status, requested_by, message, attempts, ack_timeout_ms, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          c.id,
          c.deviceId,
          c.patientId,
          c.name,
          JSON.stringify(c.args),
          c.status,
          c.requestedBy,
          c.message,
          c.attempts,
          c.ackTimeoutMs,
          iso(c.createdAt),
          iso(c.expiresAt),
        ],
      );
    },

    async byId(id: string): Promise<DeviceCommand | null> {
      const [row] = await db.query<CommandRow>('SELECT * FROM device_commands WHERE id = $1', [id]);
      return row ? toCommand(row) : null;
    },

    async listByDevice(deviceId: string, limit: number): Promise<DeviceCommand[]> {
      const rows = await db.query<CommandRow>('SELECT * FROM device_commands WHERE device_id = $1 ORDER BY created_at DESC LIMIT $2', [deviceId, limit]);
      return rows.map(toCommand);
    },

    /**
     * What to (re)publish when this device connects, oldest first: everything queued, and anything sent
     * before `sentBefore` and still unanswered (it may have gone to a connection that was already dead).
     */
    async deliverableTo(deviceId: string, now: number, sentBefore: number): Promise<DeviceCommand[]> {
      const rows = await db.query<CommandRow>(
        `SELECT * FROM device_commands
         WHERE device_id = $1 AND expires_at > $2 AND (status = 'queued' OR (status = 'sent' AND sent_at < $3))
         ORDER BY created_at`,
        [deviceId, iso(now), iso(sentBefore)],
      );
      return rows.map(toCommand);
    },

    /** A re-publish of a sent command: counted, but its answer deadline is not extended. */
    async countResend(id: string): Promise<void> {
      await db.query(`UPDATE device_commands SET attempts = attempts + 1 WHERE id = $1 AND status = 'sent'`, [id]);
    },

    /** queued → sent; the answer deadline starts now. Null when the command is no longer queued. */
    async markSent(id: string, at: number): Promise<DeviceCommand | null> {
      const [row] = await db.query<CommandRow>(
        `UPDATE device_commands SET status = 'sent', sent_at = $2, attempts = attempts + 1,
                expires_at = $2::timestamptz + ack_timeout_ms * interval '1 millisecond'
         WHERE id = $1 AND status = 'queued' RETURNING *`,
        [id, iso(at)],
      );
      return row ? toCommand(row) : null;
    },

    /**
     * Open → final (done, failed); null when it was already final (a late or repeated answer). An answer to a
     * command still marked queued proves it was sent: a fast device can answer between the publish and
     * markSent, so sent_at is filled in (with the answer's time, its latest possible value) and markSent then
     * finds nothing to do.
     */
    async complete(id: string, status: 'done' | 'failed', message: string | null, at: number, q: Queryable = db): Promise<DeviceCommand | null> {
      const [row] = await q.query<CommandRow>(
        `UPDATE device_commands SET status = $2, message = $3, completed_at = $4, sent_at = COALESCE(sent_at, $4),
                attempts = GREATEST(attempts, 1)
         WHERE id = $1 AND status IN ('queued', 'sent') RETURNING *`,
        [id, status, message, iso(at)],
      );
      return row ? toCommand(row) : null;
    },

    /** Every open command past its deadline → expired, in one statement (safe with several instances). */
    async expireDue(now: number, q: Queryable = db): Promise<DeviceCommand[]> {
      const rows = await q.query<CommandRow>(
        `UPDATE device_commands SET status = 'expired', completed_at = $1,
                message = CASE status WHEN 'queued' THEN 'not delivered: the device did not connect in time'
                                      ELSE 'no answer from the device in time' END
         WHERE status IN ('queued', 'sent') AND expires_at <= $1 RETURNING *`,
        [iso(now)],
      );
      return rows.map(toCommand);
    },

    /** Measurements the command's own device tagged with it (another device cannot claim a command). */
    async readingsOf(commandId: string, deviceId: string): Promise<LinkedReading[]> {
      const rows = await db.query<{ id: string; code: string; value: number; unit: string; ts: Date | string }>(
        'SELECT id, code, value, unit, ts FROM readings WHERE command_id = $1 AND device_id = $2 ORDER BY ts, code',
        [commandId, deviceId],
      );
      return rows.map((r) => ({ id: String(r.id), code: r.code, value: Number(r.value), unit: r.unit, ts: ms(r.ts)! }));
    },
  };
}

export type CommandsRepository = ReturnType<typeof createCommandsRepository>;
