import type { AccessPolicy } from '../../../auth/access.ts';
import type { AuditService } from '../../../audit/audit.service.ts';
import type { Principal } from '../../../domain/types.ts';
import type { Db, Queryable } from '../../../platform/db.ts';
import { systemClock, type Clock } from '../../../platform/clock.ts';
import { AppError, badRequest, notFound } from '../../../platform/errors.ts';
import { DEVICE_COLUMNS, deviceFromRow, type DeviceRow, type DevicesRepository } from '../../../store/devices.repository.ts';
import { fromFhirId } from '../ids.ts';
import { deviceResource, SYSTEM_DEVICE_ID, type Resource } from '../mapping.ts';
import type { ResourceProvider } from '../registry.ts';
import type { VersionStore } from '../versions.ts';
import { dateSql, parseDateValue } from '../search/date.ts';
import { paramsNamed, parseToken } from '../search/params.ts';
import { narrowPatients, referenceIds } from '../search/reference.ts';
import type { SqlParams } from '../search/sql.ts';
import { tableSearch } from './table-search.ts';
import { ifMatchCheck } from './write-input.ts';

type Row = DeviceRow & { version: number; updated_at: Date | null };
const COLUMNS = `${DEVICE_COLUMNS}, version, updated_at`;
const LAST_UPDATED = 'COALESCE(updated_at, created_at)';
const toResource = (r: Row) => deviceResource({ ...deviceFromRow(r), version: r.version, updatedAt: r.updated_at ? new Date(r.updated_at).getTime() : null });

/** POST /api/v1/devices's provisioning (device.service provisionFor): the REST API's authorisation, audit and type check. */
export type ProvisionDevice = (principal: Principal, input: { patientId?: string; type: string; name?: string }) => Promise<{ id: string }>;

/**
 * Device: a patient's devices are visible with the patient; unassigned devices to admins only. The id is the
 * MQTT username (`dev_…`, FHIR `dev-…`, ids.ts). Writes are authorised as the devices API: a patient's device
 * by that patient's clinicians and admins, an unassigned one by admins.
 * - create provisions the device as POST /api/v1/devices does, but a FHIR resource has no place for the MQTT
 *   secret, which is shown only once: the device connects after its secret is issued through the devices API
 *   (`POST /api/v1/devices/{id}/secret`, `vigil device secret`). Not in transaction Bundles (batch only).
 * - update changes the user-friendly name; the type (its payload decoding), the patient (the attribution of
 *   its readings) and the identifier (the MQTT username) are fixed, so a body that changes them is refused.
 */
export function deviceProvider(deps: {
  db: Db;
  access: AccessPolicy;
  audit: AuditService;
  devices: DevicesRepository;
  versions: VersionStore;
  clock?: Clock;
  provision?: ProvisionDevice;
}): ResourceProvider {
  const clock = deps.clock ?? systemClock;
  const byId = async (id: string) => (await deps.db.query<Row>(`SELECT ${COLUMNS} FROM devices WHERE id = $1`, [id]))[0];
  const provision = deps.provision;
  /** Device writes: as the devices API (device.service assertMayManage). */
  const assertMayManage = async (p: Principal, patientId: string | null) => {
    if (patientId) await deps.access.assertCanManagePatient(p, patientId);
    else deps.access.assertAdmin(p);
  };

  return {
    type: 'Device',
    interactions: ['read', 'vread', 'search-type', 'history-instance', ...(provision ? (['create'] as const) : []), 'update'],
    notSupported: { create: 'a device is provisioned with its secret (shown once) through POST /api/v1/devices or `vigil device add`' },
    search: {
      params: [
        { name: '_id', type: 'token', documentation: 'Logical id; comma for OR' },
        { name: '_lastUpdated', type: 'date', documentation: 'When the device was provisioned or last updated (all prefixes)' },
        { name: 'patient', type: 'reference', documentation: 'Patient/{id} or {id}; comma for OR' },
        { name: 'identifier', type: 'token', documentation: `${SYSTEM_DEVICE_ID}|{MQTT username}` },
      ],
      revincludes: ['Observation:device'],
    },
    async read(ctx, id) {
      const row = await byId(fromFhirId(id));
      if (!row || !(await deps.access.canSeeDevice(ctx.principal, { patientId: row.patient_id }))) throw notFound(`Device/${id}`);
      return toResource(row);
    },

    async prepareCreate(ctx, body) {
      if (!provision) throw new AppError('FORBIDDEN', 'Device create is not enabled here');
      const input = deviceInput(body);
      if (input.identifier !== undefined)
        throw badRequest(`Device.identifier ${SYSTEM_DEVICE_ID} is the MQTT username the server assigns: leave it out on create`);
      if (!input.type) throw badRequest('Device.type.text is required (the device model, e.g. pulse-oximeter)');
      await assertMayManage(ctx.principal, input.patientId);
      return {
        // The devices API's own path: its type check, its transaction with the device.provision audit entry.
        async commit() {
          const { id } = await provision(ctx.principal, { patientId: input.patientId ?? undefined, type: input.type!, name: input.name ?? undefined });
          const r = toResource((await byId(id))!);
          await deps.versions.record({ type: 'Device', id, patientId: input.patientId, method: 'POST', actorUserId: ctx.principal.userId, resource: r });
          return r;
        },
      };
    },

    async prepareUpdate(ctx, id, body, ifMatch) {
      const internal = fromFhirId(id);
      if (typeof body.id !== 'string' || fromFhirId(body.id) !== internal)
        throw badRequest(`the body's Device.id must be the id in the URL, ${id} (R4 §3.1.0.4.1)`);
      const current = await byId(internal);
      if (!current || !(await deps.access.canSeeDevice(ctx.principal, { patientId: current.patient_id }))) throw notFound(`Device/${id}`);
      await assertMayManage(ctx.principal, current.patient_id);
      const input = deviceInput(body);
      const fixed = (what: string) => new AppError('PAYLOAD_REJECTED', `${what} cannot be changed through FHIR update (see the devices API)`);
      if (input.identifier !== undefined && input.identifier !== internal) throw fixed(`Device.identifier (the MQTT username ${internal})`);
      if (input.type !== undefined && input.type !== current.type) throw fixed(`Device.type (${current.type}: it decides how the payload is read)`);
      if (input.patientId !== current.patient_id) throw fixed('Device.patient (the attribution of its readings)');
      ifMatchCheck(`Device/${id}`, ifMatch, current.version);
      const version = current.version;
      const patientId = current.patient_id;
      // Sealing may read the patient's data key: before the transaction (on PGlite a query outside it would wait).
      const at = clock.now();
      const next = toResource({ ...current, name: input.name, version: version + 1, updated_at: new Date(at) });
      const versionOf = (r: Resource, method: 'SNAPSHOT' | 'PUT', actor: string | null) =>
        deps.versions.seal({ type: 'Device', id: internal, patientId, method, actorUserId: actor, resource: r });
      const snapshot = (await deps.versions.has('Device', internal)) ? null : await versionOf(toResource(current), 'SNAPSHOT', null);
      const sealedNext = await versionOf(next, 'PUT', ctx.principal.userId);
      const inTransaction = async (tx: Queryable) => {
        const [updated] = await tx.query<{ id: string }>(
          'UPDATE devices SET name = $2, version = version + 1, updated_at = $4 WHERE id = $1 AND version = $3 RETURNING id',
          [internal, input.name, version, new Date(at).toISOString()],
        );
        if (!updated) throw new AppError('PRECONDITION_FAILED', `Device/${id} changed meanwhile (it is no longer at version ${version}): read it again`);
        if (snapshot) await deps.versions.insert(tx, snapshot);
        await deps.versions.insert(tx, sealedNext);
        await deps.audit.recordIn(tx, {
          actor: ctx.principal,
          action: 'fhir.update',
          entityType: 'Device',
          entityId: internal,
          patientId,
          details: { version: version + 1 },
        });
        return async () => next;
      };
      return { inTransaction, commit: async () => (await deps.audit.change((tx) => inTransaction(tx)))() };
    },

    async searchType(ctx, req) {
      const visible = await deps.access.visiblePatientIds(ctx.principal);
      const patients = narrowPatients(
        visible,
        paramsNamed(req, 'patient').map((p) => referenceIds(p, 'Patient')),
      );
      const where = (sql: SqlParams): string[] => {
        const w: string[] = [];
        if (patients) w.push(`patient_id = ANY(${sql.p(patients)}::text[])`);
        for (const p of paramsNamed(req, '_id')) w.push(`id = ANY(${sql.p(p.values.map(fromFhirId))}::text[])`);
        for (const p of paramsNamed(req, '_lastUpdated'))
          w.push('(' + p.values.map((v) => dateSql(parseDateValue(v, '_lastUpdated'), LAST_UPDATED, LAST_UPDATED, sql)).join(' OR ') + ')');
        for (const p of paramsNamed(req, 'identifier')) {
          const values = p.values
            .map(parseToken)
            .filter((t) => (t.system === undefined || t.system === SYSTEM_DEVICE_ID) && t.code)
            .map((t) => t.code);
          w.push(`id = ANY(${sql.p(values)}::text[])`);
        }
        return w;
      };
      const r = await tableSearch<Row, Resource>(deps.db, req, { from: 'devices', columns: COLUMNS, where, map: toResource });
      return { resources: r.resources, total: r.total, next: r.next };
    },
  };
}

/** The Device elements Vigil keeps (type.text, deviceName, patient) and the identifier it assigns. */
function deviceInput(body: Record<string, unknown>): { type?: string; name: string | null; patientId: string | null; identifier?: string } {
  const type = (body.type as { text?: unknown } | undefined)?.text;
  if (body.type !== undefined && (typeof type !== 'string' || !type)) throw badRequest('Device.type.text must name the device model (e.g. pulse-oximeter)');
  const names = Array.isArray(body.deviceName) ? (body.deviceName as Array<{ name?: unknown }>) : [];
  const name = names[0]?.name;
  if (name !== undefined && (typeof name !== 'string' || name.length > 200))
    throw badRequest('Device.deviceName[0].name must be text (at most 200 characters)');
  const ref = (body.patient as { reference?: unknown } | undefined)?.reference;
  if (body.patient !== undefined && (typeof ref !== 'string' || !/^(?:.*\/)?Patient\/[^/]+$/.test(ref)))
    throw badRequest('Device.patient.reference must be Patient/{id}');
  const ids = Array.isArray(body.identifier) ? (body.identifier as Array<{ system?: unknown; value?: unknown }>) : [];
  const identifier = ids.find((i) => i?.system === SYSTEM_DEVICE_ID)?.value;
  if (identifier !== undefined && typeof identifier !== 'string') throw badRequest(`identifier ${SYSTEM_DEVICE_ID} must be text`);
  return {
    ...(typeof type === 'string' ? { type } : {}),
    name: typeof name === 'string' && name.trim() ? name.trim() : null,
    patientId: typeof ref === 'string' ? fromFhirId(ref.replace(/^.*Patient\//, '')) : null,
    ...(identifier !== undefined ? { identifier } : {}),
  };
}

/** Devices by internal id, for `_include` (the ids come from rows already in the caller's scope). */
export async function devicesByIds(db: Db, ids: string[]): Promise<Resource[]> {
  if (!ids.length) return [];
  return (await db.query<Row>(`SELECT ${COLUMNS} FROM devices WHERE id = ANY($1::text[]) ORDER BY id`, [ids])).map(toResource);
}
