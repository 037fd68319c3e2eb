import type { AccessPolicy } from '../auth/access.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { DeviceService } from '../devices/device.service.ts';
import type { DeviceGateway } from '../ingest/broker/gateway.ts';
import type { Principal } from '../domain/types.ts';
import type { Clock } from '../platform/clock.ts';
import type { EventBus } from '../platform/events.ts';
import type { Logger } from '../platform/logger.ts';
import { notFound } from '../platform/errors.ts';
import { newId } from '../platform/ids.ts';
import type { CommandsRepository } from './commands.repository.ts';
import { parseCommandRequest } from './command-request.ts';
import { toView, type CommandView, type DeviceCommand } from './command.types.ts';
import { parseCommandResult } from './command-result.ts';

export interface CommandTimeouts {
  /** How long a sent command waits for the device's answer (ms). */
  answerMs: number;
  /** How long a command waits for an offline device to connect (ms). */
  queuedMs: number;
}

export const DEFAULT_TIMEOUTS: CommandTimeouts = { answerMs: 2 * 60_000, queuedMs: 60 * 60_000 }; // 2 min, 1 h
// A device that connects subscribes to its commands topic a moment later (and usually publishes its status
// then, which is a second "online" event); wait this long after the last one before delivering.
const RECONNECT_SETTLE_MS = 500;
const LIST_LIMIT = 50;

/**
 * Device commands: request → durable row (the queue) → QoS 1 publish when the device is online or as soon
 * as it reconnects → its answer on `…/commands/{id}/result`. Every transition is audited and pushed live.
 */
export function createCommandService(deps: {
  commands: CommandsRepository;
  devices: DeviceService;
  access: AccessPolicy;
  audit: AuditService;
  events: EventBus;
  gateway: DeviceGateway | null;
  clock: Clock;
  logger: Logger;
  timeouts?: Partial<CommandTimeouts>;
  /**
   * Several instances hear every device's events (cluster/relay.ts): should this one act on this event for
   * this patient (deliver on reconnect, announce)? Default: always (one instance).
   */
  shouldAct?: (patientId: string | null, event: object) => Promise<boolean>;
}) {
  const shouldAct = deps.shouldAct ?? (async () => true);
  const log = deps.logger.child({ module: 'commands' });
  const timeouts = { ...DEFAULT_TIMEOUTS, ...deps.timeouts };
  const settleTimers = new Map<string, NodeJS.Timeout>();

  async function view(c: DeviceCommand): Promise<CommandView> {
    return toView(c, await deps.commands.readingsOf(c.id, c.deviceId));
  }

  async function announce(c: DeviceCommand) {
    deps.events.emit('command.changed', { patientId: c.patientId ?? null, command: await view(c) });
  }

  /** Publishes one command; a queued one becomes sent. On failure it stays as it was (reconnect or expiry). */
  async function deliver(c: DeviceCommand): Promise<DeviceCommand> {
    if (!deps.gateway) return c;
    const args = c.name === 'SYNC_TIME' ? { ...c.args, time: new Date(deps.clock.now()).toISOString() } : c.args;
    try {
      await deps.gateway.publishToDevice(c.deviceId, 'commands', { id: c.id, name: c.name, args }, 1);
    } catch (err) {
      log.warn({ err, deviceId: c.deviceId, commandId: c.id }, 'command publish failed; it stays queued');
      return c;
    }
    if (c.status === 'sent') {
      await deps.commands.countResend(c.id);
      log.info({ deviceId: c.deviceId, commandId: c.id, name: c.name }, 'unanswered command re-sent after the device reconnected');
      return c;
    }
    const sent = await deps.commands.markSent(c.id, deps.clock.now());
    if (!sent) return (await deps.commands.byId(c.id)) ?? c; // a fast device answered (or it expired) meanwhile
    log.info({ deviceId: c.deviceId, commandId: c.id, name: c.name }, 'command sent');
    await announce(sent);
    return sent;
  }

  /**
   * On (re)connect: queued commands, and sent ones still unanswered from before this connection (a
   * command published just before a connection died, or to a device the database still thought online,
   * would otherwise be lost; QoS 1 is at-least-once anyway, so devices de-duplicate on the command id).
   */
  async function deliverQueued(deviceId: string, connectedAt = deps.clock.now()) {
    const now = deps.clock.now();
    for (const c of await deps.commands.deliverableTo(deviceId, now, connectedAt)) await deliver(c);
  }

  function onOnline(deviceId: string) {
    clearTimeout(settleTimers.get(deviceId));
    // The last online event of a burst (usually the device's own status, published once it has
    // subscribed) marks the connection; anything sent before it may have missed the device: re-send.
    const connectedAt = deps.clock.now();
    const timer = setTimeout(() => {
      settleTimers.delete(deviceId);
      deliverQueued(deviceId, connectedAt).catch((err) => log.error({ err, deviceId }, 'could not deliver queued commands'));
    }, RECONNECT_SETTLE_MS);
    timer.unref();
    settleTimers.set(deviceId, timer);
  }

  async function onResult(deviceId: string, commandId: string, payload: string) {
    const c = await deps.commands.byId(commandId);
    if (!c || c.deviceId !== deviceId) {
      log.warn({ deviceId, commandId }, 'result for an unknown command or another device; ignored');
      return;
    }
    const result = parseCommandResult(payload);
    const done = await deps.audit.change(async (tx, audit) => {
      const d = await deps.commands.complete(c.id, result.status, result.message, deps.clock.now(), tx);
      if (d)
        audit({
          actor: `device:${deviceId}`,
          action: 'command.result',
          entityType: 'DeviceCommand',
          entityId: c.id,
          patientId: c.patientId,
          outcome: d.status === 'done' ? 'success' : 'failure',
          details: { name: c.name, status: d.status, message: d.message },
        });
      return d;
    });
    if (!done) {
      log.info({ deviceId, commandId, status: c.status }, 'late or repeated command result ignored');
      return;
    }
    await announce(done);
  }

  /** Moves every overdue command to expired; called by the sweeper. */
  async function expireDue(): Promise<number> {
    const expired = await deps.audit.change(async (tx, audit) => {
      const rows = await deps.commands.expireDue(deps.clock.now(), tx);
      for (const c of rows)
        audit({
          actor: 'system',
          action: 'command.expire',
          entityType: 'DeviceCommand',
          entityId: c.id,
          patientId: c.patientId,
          outcome: 'failure',
          details: { name: c.name, message: c.message, attempts: c.attempts },
        });
      return rows;
    });
    for (const c of expired) {
      log.info({ deviceId: c.deviceId, commandId: c.id, name: c.name }, c.message ?? 'command expired');
      await announce(c);
    }
    return expired.length;
  }

  const unsubscribe = [
    deps.events.on('device.status', async (s) => {
      if (s.online && (await shouldAct(s.patientId, s))) onOnline(s.deviceId);
    }),
    deps.events.on('command.result', ({ deviceId, commandId, payload }) => {
      onResult(deviceId, commandId, payload).catch((err) => log.error({ err, deviceId, commandId }, 'could not record a command result'));
    }),
    // A measurement tagged with a command updates that command's view (its readings) on screens.
    deps.events.on('readings.stored', async (readings) => {
      const tagged = [];
      for (const r of readings) if (r.commandId && (await shouldAct(r.patientId, readings))) tagged.push(r);
      const ids = new Set(tagged.map((r) => r.commandId).filter((id): id is string => !!id));
      for (const id of ids) {
        void deps.commands
          .byId(id)
          .then((c) => c && announce(c))
          .catch(() => undefined);
      }
    }),
  ];

  async function deviceInScope(p: Principal, deviceId: string, write: boolean) {
    const device = await deps.devices.get(deviceId);
    if (!device.patientId)
      deps.access.assertAdmin(p); // unassigned stock devices are an admin matter
    else if (write) await deps.access.assertCanManagePatient(p, device.patientId);
    else await deps.access.assertPatient(p, device.patientId);
    return device;
  }

  return {
    /** POST /devices/{id}/commands: validates, stores (the durable queue), sends now if the device is online. */
    async request(p: Principal, deviceId: string, body: unknown): Promise<{ id: string; status: DeviceCommand['status'] }> {
      const device = await deviceInScope(p, deviceId, true);
      const req = parseCommandRequest(body);
      const now = deps.clock.now();
      const answerMs = req.timeoutMs ?? timeouts.answerMs;
      let command: DeviceCommand = {
        id: newId('cmd'),
        deviceId,
        patientId: device.patientId,
        name: req.name,
        args: req.args,
        status: 'queued',
        requestedBy: p.userId,
        message: null,
        attempts: 0,
        ackTimeoutMs: answerMs,
        createdAt: now,
        sentAt: null,
        completedAt: null,
        expiresAt: now + (req.expiresInMs ?? (device.online ? answerMs : timeouts.queuedMs)),
      };
      await deps.audit.change(async (tx, audit) => {
        await deps.commands.insert(command, tx);
        audit({
          actor: p,
          action: 'command.request',
          entityType: 'DeviceCommand',
          entityId: command.id,
          patientId: device.patientId,
          details: { deviceId, name: command.name, args: command.args, deviceOnline: device.online },
        });
      });
      await announce(command);
      if (device.online) command = await deliver(command);
      return { id: command.id, status: command.status };
    },

    async get(p: Principal, id: string): Promise<CommandView> {
      const c = await deps.commands.byId(id);
      if (!c) throw notFound(`command ${id}`);
      try {
        await deviceInScope(p, c.deviceId, false);
      } catch {
        throw notFound(`command ${id}`); // no hint that a command exists outside the caller's patients
      }
      return view(c);
    },

    async listForDevice(p: Principal, deviceId: string): Promise<CommandView[]> {
      await deviceInScope(p, deviceId, false);
      return Promise.all((await deps.commands.listByDevice(deviceId, LIST_LIMIT)).map(view));
    },

    expireDue,
    /** The reconnect path, callable directly: deliver whatever is waiting for this device now. */
    deliverQueued,

    close() {
      unsubscribe.forEach((off) => off());
      settleTimers.forEach((t) => clearTimeout(t));
      settleTimers.clear();
    },
  };
}

export type CommandService = ReturnType<typeof createCommandService>;
