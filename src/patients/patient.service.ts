import { isTimeZone } from '../platform/time-zone.ts';
import type { News2Risk } from '../analysis/news2/score.ts';
import { birthDateProblem } from './birth-date.ts';
import type { PatientsRepository, Patient } from '../store/patients.repository.ts';
import type { ReadingsRepository, LatestValue } from '../store/readings.repository.ts';
import type { DevicesRepository, Device } from '../store/devices.repository.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Clock } from '../platform/clock.ts';
import type { EventBus } from '../platform/events.ts';
import type { Principal } from '../domain/types.ts';
import { AppError, notFound } from '../platform/errors.ts';
import { newId } from '../platform/ids.ts';
import { news2For, panelStatus, settingsOf, type PanelStatus } from './patient-status.ts';

export interface PanelPatient {
  id: string;
  name: string;
  birthDate: string | null;
  age: number | null;
  devices: Device[];
  latest: Record<string, { value: number; unit: string; ts: string }>;
  news2: {
    score: number | null;
    partialScore: number;
    risk: News2Risk | null;
    minimumRisk: News2Risk;
    complete: boolean;
    components: Record<string, number>;
    missing: string[];
    stale: string[];
  } | null;
  status: PanelStatus;
  openAlerts: number;
}

/** Optional source of open-alert counts (the alerts module plugs in here). */
export interface OpenAlertCounter {
  countsFor(patientIds: string[]): Promise<Map<string, { critical: number; total: number }>>;
}

function ageOn(birthDate: string | null, now: number): number | null {
  if (!birthDate) return null;
  const b = new Date(birthDate + 'T00:00:00Z');
  const n = new Date(now);
  let age = n.getUTCFullYear() - b.getUTCFullYear();
  if (n.getUTCMonth() < b.getUTCMonth() || (n.getUTCMonth() === b.getUTCMonth() && n.getUTCDate() < b.getUTCDate())) age--;
  return age;
}

/** The clinical settings a clinician may set (patient-status.ts), checked; unknown keys are ignored. */
function validSettings(patch: Record<string, unknown>, now: number): Record<string, unknown> {
  const allowed: Record<string, unknown> = {};
  if ('spo2Scale' in patch) {
    if (patch.spo2Scale !== 1 && patch.spo2Scale !== 2) throw new AppError('VALIDATION', 'spo2Scale must be 1 or 2');
    allowed.spo2Scale = patch.spo2Scale;
  }
  for (const key of ['onOxygen', 'assumeAlert'] as const) {
    if (key in patch) {
      if (typeof patch[key] !== 'boolean') throw new AppError('VALIDATION', `${key} must be true or false`);
      allowed[key] = patch[key];
    }
  }
  if ('consciousness' in patch) {
    if (!['A', 'C', 'V', 'P', 'U'].includes(patch.consciousness as string)) throw new AppError('VALIDATION', 'consciousness must be one of A, C, V, P, U');
    allowed.consciousness = { value: patch.consciousness, ts: now };
  }
  if ('timeZone' in patch) {
    // null: back to the clinic's zone (VIGIL_TIME_ZONE).
    if (patch.timeZone !== null && !isTimeZone(patch.timeZone as string))
      throw new AppError('VALIDATION', 'timeZone must be an IANA time zone such as Europe/London, or null for the clinic’s');
    allowed.timeZone = patch.timeZone;
  }
  return allowed;
}

export function createPatientService(deps: {
  patients: PatientsRepository;
  readings: ReadingsRepository;
  devices: DevicesRepository;
  access: AccessPolicy;
  audit: AuditService;
  clock: Clock;
  alerts?: OpenAlertCounter;
  /** `careteam.removed` after a removal commits (open visit sockets are checked at once). */
  events?: EventBus;
}) {
  async function toPanel(patients: Patient[]): Promise<PanelPatient[]> {
    const ids = patients.map((p) => p.id);
    const now = deps.clock.now();
    const [latest, devices, alertCounts] = await Promise.all([
      deps.readings.latestFor(ids),
      deps.devices.list(ids),
      deps.alerts ? deps.alerts.countsFor(ids) : Promise.resolve(new Map<string, { critical: number; total: number }>()),
    ]);
    return patients.map((p) => {
      const l: Record<string, LatestValue> = latest.get(p.id) ?? {};
      const n = Object.keys(l).length > 0 ? news2For(l, settingsOf(p.settings), now) : null;
      const counts = alertCounts.get(p.id) ?? { critical: 0, total: 0 };
      return {
        id: p.id,
        name: p.name,
        birthDate: p.birthDate,
        age: ageOn(p.birthDate, now),
        devices: devices.filter((d) => d.patientId === p.id),
        latest: Object.fromEntries(Object.entries(l).map(([code, v]) => [code, { value: v.value, unit: v.unit, ts: new Date(v.ts).toISOString() }])),
        news2: n && {
          score: n.score,
          partialScore: n.partialScore,
          risk: n.risk,
          minimumRisk: n.minimumRisk,
          complete: n.complete,
          components: n.components as Record<string, number>,
          missing: n.missing,
          stale: n.stale,
        },
        status: panelStatus(l, n, counts, now),
        openAlerts: counts.total,
      };
    });
  }

  return {
    async create(
      input: { name: string; birthDate?: string | null; sex?: string | null; mrn?: string | null; settings?: Record<string, unknown> },
      actor: Principal | 'cli' | 'system',
      joinCareTeamOf?: Principal,
    ) {
      const name = input.name?.trim();
      if (!name) throw new AppError('VALIDATION', 'name is required');
      const badBirth = input.birthDate === undefined || input.birthDate === null ? null : birthDateProblem(input.birthDate, deps.clock.now());
      if (badBirth) throw new AppError('VALIDATION', `birthDate: ${badBirth}`);
      const id = newId('pat');
      const settings = input.settings ? validSettings(input.settings, deps.clock.now()) : {};
      // A clinician's new patient joins their care team in the same transaction as the patient and both entries.
      const practitionerId = joinCareTeamOf ? deps.access.careTeamOfCreator(joinCareTeamOf) : null;
      await deps.audit.change(async (tx, log) => {
        await deps.patients.insert({ id, name, birthDate: input.birthDate ?? null, sex: input.sex ?? null, mrn: input.mrn ?? null, settings }, tx);
        log({ actor, action: 'patient.create', entityType: 'Patient', entityId: id, patientId: id });
        if (practitionerId) {
          await deps.patients.addToCareTeam(id, practitionerId, 'clinician', tx);
          log({ actor, action: 'careteam.add', entityType: 'Patient', entityId: id, patientId: id, details: { practitionerId } });
        }
      });
      return { id };
    },

    /** POST /api/v1/patients: a staff member registers a patient; a clinician's new patient joins their care team. */
    async createFor(principal: Principal, input: { name: string; birthDate?: string | null; sex?: string | null; settings?: Record<string, unknown> }) {
      deps.access.assertStaff(principal);
      return this.create(input, principal, principal);
    },

    async assignClinician(patientId: string, practitionerId: string, actor: Principal | 'cli' | 'system') {
      // Named 404s instead of the database's foreign-key error.
      if (!(await deps.patients.byId(patientId))) throw notFound(`patient ${patientId}`);
      if (!(await deps.patients.practitionerById(practitionerId))) throw notFound(`practitioner ${practitionerId}`);
      await deps.audit.change(async (tx, log) => {
        await deps.patients.addToCareTeam(patientId, practitionerId, 'clinician', tx);
        log({ actor, action: 'careteam.add', entityType: 'Patient', entityId: patientId, patientId, details: { practitionerId } });
      });
    },

    /** DELETE /api/v1/patients/{id}/care-team/{practitionerId}: the clinician loses access at once (open dashboards within 30 s, open visit sockets at once). */
    async removeClinician(patientId: string, practitionerId: string, actor: Principal | 'cli' | 'system') {
      if (!(await deps.patients.byId(patientId))) throw notFound(`patient ${patientId}`);
      const removed = await deps.audit.change(async (tx, log) => {
        const was = await deps.patients.removeFromCareTeam(patientId, practitionerId, tx);
        if (was) log({ actor, action: 'careteam.remove', entityType: 'Patient', entityId: patientId, patientId, details: { practitionerId } });
        return was;
      });
      if (!removed) throw notFound(`practitioner ${practitionerId} on the care team of patient ${patientId}`);
      deps.events?.emit('careteam.removed', { patientId, practitionerId });
    },

    /** The clinician panel: every visible patient with latest vitals, NEWS2 and status. */
    async panel(principal: Principal): Promise<PanelPatient[]> {
      const ids = await deps.access.visiblePatientIds(principal);
      const patients = await deps.patients.list(ids);
      return toPanel(patients);
    },

    async detail(principal: Principal, patientId: string) {
      await deps.access.assertPatient(principal, patientId);
      const p = await deps.patients.byId(patientId);
      if (!p) throw notFound(`patient ${patientId}`);
      const [panel] = await toPanel([p]);
      const careTeam = await deps.patients.careTeamOf(patientId);
      await deps.audit.record({ actor: principal, action: 'patient.read', entityType: 'Patient', entityId: patientId, patientId });
      return { ...panel, settings: settingsOf(p.settings), careTeam };
    },

    async updateSettings(principal: Principal, patientId: string, patch: Record<string, unknown>) {
      await deps.access.assertCanManagePatient(principal, patientId);
      const allowed = validSettings(patch, deps.clock.now());
      await deps.audit.change(async (tx, log) => {
        await deps.patients.updateSettings(patientId, allowed, tx);
        log({ actor: principal, action: 'patient.settings', entityType: 'Patient', entityId: patientId, patientId, details: allowed });
      });
      return settingsOf({ ...((await deps.patients.byId(patientId))?.settings ?? {}) });
    },
  };
}

export type PatientService = ReturnType<typeof createPatientService>;
