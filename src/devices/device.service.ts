import type { DevicesRepository, Device } from '../store/devices.repository.ts';
import type { PatientsRepository } from '../store/patients.repository.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Principal } from '../domain/types.ts';
import type { RejectionsRepository } from '../store/rejections.repository.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { Clock } from '../platform/clock.ts';
import type { EventBus } from '../platform/events.ts';
import { AppError, notFound } from '../platform/errors.ts';
import { newId, newSecret } from '../platform/ids.ts';
import { hashSecret, verifySecret } from './secrets.ts';
import { TOPIC_PREFIX } from '../ingest/decode.ts';

export const DEVICE_TYPES = ['pulse-oximeter', 'bp-cuff', 'thermometer', 'cgm', 'ecg', 'smartwatch', 'scale', 'multi', 'bedside'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

const AUTH_CACHE_MS = 60_000; // a revoked device is refused within a minute on every instance

export interface ProvisionedDevice {
  id: string;
  secret: string;
  topic: string;
  patientId: string | null;
  type: string;
}

/** Device provisioning and authentication (the broker hooks and HTTP ingest both ask here). */
export function createDeviceService(deps: {
  devices: DevicesRepository;
  patients: PatientsRepository;
  rejections: RejectionsRepository;
  audit: AuditService;
  access: AccessPolicy;
  clock: Clock;
  /** Device models declared by mapping files (devices/mappings.ts), accepted beside the built-in types. */
  mappedTypes?: string[];
  /** [sec] 'device.credentials' is emitted when a secret stops working (relayed to other instances). */
  events?: EventBus;
}) {
  const types = [...DEVICE_TYPES, ...(deps.mappedTypes ?? [])];
  type Entry = { patientId: string | null; secretHash: string; disabled: boolean } | null;
  // Single-flight: a burst of messages from one device shares one lookup instead of one query each.
  // `value`: the entry once it has arrived, so ingest can read it without waiting (knownNow).
  const cache = new Map<string, { at: number; entry: Promise<Entry>; value?: Entry }>();

  function lookup(id: string): Promise<Entry> {
    const hit = cache.get(id);
    if (hit && deps.clock.now() - hit.at < AUTH_CACHE_MS) return hit.entry;
    const entry = deps.devices.authOf(id).then((auth) => (auth ? { patientId: auth.patientId, secretHash: auth.secretHash, disabled: auth.disabled } : null));
    const cached: { at: number; entry: Promise<Entry>; value?: Entry } = { at: deps.clock.now(), entry };
    cache.set(id, cached);
    entry.then(
      (e) => (e === null ? cache.delete(id) : (cached.value = e)), // unknown ids are not cached: a device provisioned a second later works
      () => cache.delete(id),
    );
    return entry;
  }

  // A credential change anywhere (this instance or another, via the relay) drops the cached secret at once:
  // the old secret is refused everywhere without waiting for AUTH_CACHE_MS, and brokers close its sessions.
  deps.events?.on('device.credentials', (e) => void cache.delete(e.deviceId));
  const credentialsChanged = (deviceId: string, reason: 'secret rotated' | 'disabled') => {
    cache.delete(deviceId);
    deps.events?.emit('device.credentials', { deviceId, reason });
  };
  async function assertMayManage(principal: Principal, device: Device) {
    if (device.patientId) await deps.access.assertCanManagePatient(principal, device.patientId);
    else deps.access.assertAdmin(principal);
  }

  return {
    async provision(input: { patientId: string | null; type: string; name?: string | null }, actor: Principal | 'cli' | 'system'): Promise<ProvisionedDevice> {
      if (!types.includes(input.type)) {
        throw new AppError('VALIDATION', `type must be one of: ${types.join(', ')} (got "${input.type}")`);
      }
      if (input.patientId && !(await deps.patients.byId(input.patientId))) throw notFound(`patient ${input.patientId}`);
      const id = newId('dev');
      const secret = newSecret();
      await deps.audit.change(async (tx, log) => {
        await deps.devices.insert({ id, patientId: input.patientId, type: input.type, name: input.name ?? null, secretHash: hashSecret(secret) }, tx);
        log({ actor, action: 'device.provision', entityType: 'Device', entityId: id, patientId: input.patientId });
      });
      return { id, secret, topic: `${TOPIC_PREFIX}${id}/telemetry`, patientId: input.patientId, type: input.type };
    },

    /**
     * Rotates a device's secret (issue 9: "device secrets rotate"): a new 256-bit secret, shown once; the old one
     * is refused at once on this instance and within AUTH_CACHE_MS on others. Who may: as for provisioning.
     */
    async rotateSecret(principal: Principal, id: string): Promise<ProvisionedDevice> {
      const device = await this.getFor(principal, id);
      await assertMayManage(principal, device);
      const secret = newSecret();
      await deps.audit.change(async (tx, log) => {
        await deps.devices.setSecretHash(id, hashSecret(secret), tx);
        log({ actor: principal, action: 'device.secret.rotate', entityType: 'Device', entityId: id, patientId: device.patientId });
      });
      credentialsChanged(id, 'secret rotated'); // open MQTT sessions with the old secret close now
      return { id, secret, topic: `${TOPIC_PREFIX}${id}/telemetry`, patientId: device.patientId, type: device.type };
    },

    /**
     * Disables a lost or returned device (or enables it again): while disabled its secret is refused over
     * MQTT and HTTP and its open sessions are closed at once. Who may: as for rotation. Audited.
     */
    async setDisabled(principal: Principal, id: string, disabled: boolean): Promise<Device> {
      const device = await this.getFor(principal, id);
      await assertMayManage(principal, device);
      await deps.audit.change(async (tx, log) => {
        await deps.devices.setDisabled(id, disabled, tx);
        log({ actor: principal, action: disabled ? 'device.disable' : 'device.enable', entityType: 'Device', entityId: id, patientId: device.patientId });
      });
      if (disabled) credentialsChanged(id, 'disabled');
      else cache.delete(id);
      return this.get(id);
    },

    /** Checks a device's credentials; returns its patient (null when unassigned) or false. */
    async authenticate(id: string, secret: string): Promise<{ patientId: string | null } | false> {
      const entry = await lookup(id);
      if (!entry || entry.disabled || !verifySecret(secret, entry.secretHash)) return false;
      return { patientId: entry.patientId };
    },

    /** [sec] Ingest refuses a disabled device's data whichever broker carried it (an external one keeps its own credentials). */
    async isDisabled(id: string): Promise<boolean> {
      return (await lookup(id))?.disabled === true;
    },

    /**
     * A known device's patient and state from the cache, without waiting (ingest's per-message fast path);
     * undefined when it must be looked up (`patientOf`, `isDisabled`). The same cache and expiry as they use.
     */
    knownNow(id: string): { patientId: string | null; disabled: boolean } | undefined {
      const hit = cache.get(id);
      return hit?.value && deps.clock.now() - hit.at < AUTH_CACHE_MS ? hit.value : undefined;
    },

    async patientOf(id: string): Promise<string | null | undefined> {
      const entry = await lookup(id);
      return entry ? entry.patientId : undefined;
    },

    async get(id: string): Promise<Device> {
      const d = await deps.devices.byId(id);
      if (!d) throw notFound(`device ${id}`);
      return d;
    },

    list: (patientIds: string[] | null) => deps.devices.list(patientIds),

    /** GET /api/v1/devices: one patient's devices (when visible) or every device of the visible patients. */
    async listFor(principal: Principal, patientId?: string): Promise<Device[]> {
      if (patientId) {
        await deps.access.assertPatient(principal, patientId);
        return deps.devices.list([patientId]);
      }
      return deps.devices.list(await deps.access.visiblePatientIds(principal));
    },

    /** GET /api/v1/devices/{id}: a device of a visible patient; unassigned stock devices are an admin matter. */
    async getFor(principal: Principal, id: string): Promise<Device> {
      const device = await this.get(id);
      // A device of a patient the caller may not see is "not found" as the device, never naming its patient.
      if (device.patientId) await deps.access.assertPatient(principal, device.patientId).catch(() => Promise.reject(notFound(`device ${id}`)));
      else deps.access.assertAdmin(principal);
      return device;
    },

    /** POST /api/v1/devices: admins, or the patient's clinicians for that patient's devices. */
    async provisionFor(principal: Principal, input: { patientId?: string; type: string; name?: string }): Promise<ProvisionedDevice> {
      if (!input.patientId) deps.access.assertAdmin(principal);
      else await deps.access.assertCanManagePatient(principal, input.patientId);
      return this.provision({ patientId: input.patientId ?? null, type: input.type, name: input.name }, principal);
    },

    /** Recently rejected device payloads (admin screen). */
    rejections: (limit: number, deviceId?: string) => deps.rejections.recent(limit, deviceId),
    forget: (id: string) => cache.delete(id),
  };
}

export type DeviceService = ReturnType<typeof createDeviceService>;
