import type { AccessPolicy } from '../../../auth/access.ts';
import type { Db } from '../../../platform/db.ts';
import { notFound } from '../../../platform/errors.ts';
import { DEVICE_COLUMNS, deviceFromRow, type DeviceRow, type DevicesRepository } from '../../../store/devices.repository.ts';
import { fromFhirId } from '../ids.ts';
import { deviceResource, SYSTEM_DEVICE_ID } from '../mapping.ts';
import type { ResourceProvider } from '../registry.ts';
import { SUMMARY_ELEMENTS } from '../search/subsetting.ts';
import { dateSql, parseDateValue } from '../search/date.ts';
import { paramsNamed, parseToken } from '../search/params.ts';
import { narrowPatients, referenceIds } from '../search/reference.ts';
import type { SqlParams } from '../search/sql.ts';
import { tableSearch } from './table-search.ts';

/** Device: a patient's devices are visible with the patient; unassigned devices to admins only. */
export function deviceProvider(deps: { db: Db; access: AccessPolicy; devices: DevicesRepository }): ResourceProvider {
  return {
    type: 'Device',
    summaryElements: SUMMARY_ELEMENTS.Device,
    interactions: ['read', 'vread', 'search-type', 'history-instance'],
    notSupported: {
      create: 'a device is provisioned with its secret (shown once) through POST /api/v1/devices or `vigil device add`',
      update: 'a device is changed through the devices API (/api/v1/devices), where its secret and assignment are managed',
    },
    search: {
      params: [
        { name: '_id', type: 'token', documentation: 'Logical id; comma for OR' },
        { name: '_lastUpdated', type: 'date', documentation: 'When the device was provisioned (all prefixes)' },
        { name: 'patient', type: 'reference', documentation: 'Patient/{id} or {id}; comma for OR' },
        { name: 'identifier', type: 'token', documentation: `${SYSTEM_DEVICE_ID}|{MQTT username}` },
      ],
      revincludes: ['Observation:device'],
    },
    async read(ctx, id) {
      const d = await deps.devices.byId(fromFhirId(id));
      if (!d || !(await deps.access.canSeeDevice(ctx.principal, d))) throw notFound(`Device/${id}`);
      return deviceResource(d);
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
          w.push('(' + p.values.map((v) => dateSql(parseDateValue(v, '_lastUpdated'), 'created_at', 'created_at', sql)).join(' OR ') + ')');
        for (const p of paramsNamed(req, 'identifier')) {
          const values = p.values
            .map(parseToken)
            .filter((t) => (t.system === undefined || t.system === SYSTEM_DEVICE_ID) && t.code)
            .map((t) => t.code);
          w.push(`id = ANY(${sql.p(values)}::text[])`);
        }
        return w;
      };
      const r = await tableSearch<DeviceRow, ReturnType<typeof deviceResource>>(deps.db, req, {
        from: 'devices',
        columns: DEVICE_COLUMNS,
        where,
        map: (row) => deviceResource(deviceFromRow(row)),
      });
      return { resources: r.resources, total: r.total, next: r.next };
    },
  };
}

export async function devicesByIds(devices: DevicesRepository, ids: string[]) {
  return (await devices.byIds(ids)).map(deviceResource);
}
