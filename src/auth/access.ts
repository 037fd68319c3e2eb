import type { Principal } from '../domain/types.ts';
import type { PatientsRepository } from '../store/patients.repository.ts';
import { forbidden, notFound } from '../platform/errors.ts';
import { allows, patientOnly, type Interaction } from './smart-scopes.ts';

/**
 * The one place access decisions are made. Routes and services ask here; no other code compares roles.
 * - admin: every patient;
 * - clinician: the patients on their care teams;
 * - patient: themself only;
 * - caregiver (a family member): the patients whose consent names them (privacy/consent.ts), read only —
 *   portal data and message threads; asked on every request, so a revoked consent is a 404 at once;
 * - guest (a visit invitation): no patient at all; only the one visit its pass names (visits service).
 * Staff (admin, clinician) is a positive list: a role added later gets nothing clinical by default.
 */
export function createAccessPolicy(deps: {
  patients: PatientsRepository;
  /** (d)(6) break-the-glass grants */
  emergencyPatientIds?: (userId: string) => Promise<string[]>;
  /** Consents naming this caregiver (privacy/consent.ts) */
  caregiverPatientIds?: (userId: string) => Promise<string[]>;
}) {
  const STAFF: ReadonlySet<string> = new Set(['admin', 'clinician']);
  const isStaffRole = (role: string) => STAFF.has(role);
  /** The patients this principal may see; null means all. A SMART app with patient/ scopes: its launch patient only. */
  async function visiblePatientIds(p: Principal): Promise<string[] | null> {
    const byRole = await roleScope(p);
    // A token limited to some patients sees only those of them its account may see.
    const only = p.credential?.patients;
    const own = !only ? byRole : byRole === null ? [...only] : byRole.filter((id) => only.includes(id));
    if (!p.smart || !patientOnly(p.smart.scopes)) return own;
    const launch = p.smart.patientId;
    return launch && (own === null || own.includes(launch)) ? [launch] : [];
  }

  async function roleScope(p: Principal): Promise<string[] | null> {
    switch (p.role) {
      case 'admin':
        return null;
      case 'clinician': {
        const team = p.practitionerId ? await deps.patients.patientIdsOfPractitioner(p.practitionerId) : [];
        // (d)(6): an unexpired emergency grant adds that patient (never for an API token).
        if (!deps.emergencyPatientIds || p.credential?.kind === 'token') return team;
        const extra = (await deps.emergencyPatientIds(p.userId)).filter((id) => !team.includes(id));
        return extra.length ? [...team, ...extra] : team;
      }
      case 'patient':
        return p.patientId ? [p.patientId] : [];
      case 'caregiver':
        return deps.caregiverPatientIds ? await deps.caregiverPatientIds(p.userId) : [];
      default: // guest, and any role this module does not know
        return [];
    }
  }

  async function canSeePatient(p: Principal, patientId: string): Promise<boolean> {
    const ids = await visiblePatientIds(p);
    return ids === null || ids.includes(patientId);
  }

  return {
    visiblePatientIds,
    canSeePatient,
    /** Throws 404 (not 403) for a patient outside the principal's scope: no hint that the record exists. */
    async assertPatient(p: Principal, patientId: string): Promise<void> {
      const ids = await visiblePatientIds(p);
      if (ids !== null ? !ids.includes(patientId) : !(await deps.patients.byId(patientId))) throw notFound(`patient ${patientId}`);
    },
    /** Clinical writes (devices, settings, commands): admins and the patient's own clinicians. */
    async assertCanManagePatient(p: Principal, patientId: string): Promise<void> {
      if (!isStaffRole(p.role)) throw forbidden(`${p.role === 'patient' ? 'patients' : 'caregivers and guests'} cannot change clinical settings or devices`);
      await this.assertPatient(p, patientId);
    },
    assertAdmin(p: Principal): void {
      if (p.role !== 'admin') throw forbidden('admin role required');
      // An admin's token limited to some patients is not an admin's whole reach (found by review: it erased others).
      if (p.credential?.patients) throw forbidden('a token limited to some patients cannot do administration');
    },
    /** SMART apps: the granted scopes must allow this interaction on this type (SMART App Launch 2.x scopes). */
    assertScope(p: Principal, type: string, interaction: Interaction): void {
      if (p.smart && !allows(p.smart.scopes, type, interaction))
        throw forbidden(`the app's token has no scope for ${interaction} on ${type} (granted: ${p.smart.scopes.join(' ') || 'none'})`);
    },
    /** The care team a patient created by this principal joins: a clinician's own, else none. */
    careTeamOfCreator(p: Principal): string | null {
      return p.role === 'clinician' ? p.practitionerId : null;
    },
    assertStaff(p: Principal): void {
      if (!isStaffRole(p.role)) throw forbidden('clinician or admin role required');
    },
    /** An account (not necessarily the caller) that may carry clinical work, e.g. be assigned an alert. */
    isStaff(user: { role: string }): boolean {
      return isStaffRole(user.role);
    },
    /** Speaks for the patient's side (the patient or their caregiver): e.g. a message author shown as "patient side". */
    isPatientSide(p: { role: string }): boolean {
      return p.role === 'patient' || p.role === 'caregiver';
    },
    isCaregiver(p: { role: string }): boolean {
      return p.role === 'caregiver';
    },
    /** An account a patient may name in a caregiver consent. */
    isCaregiverAccount(u: { role: string; disabled?: boolean }): boolean {
      return u.role === 'caregiver' && !u.disabled;
    },
    /** Giving or changing a patient's consents: the patient themself, or an admin recording a signed form. */
    assertMayConsentFor(p: Principal, patientId: string): void {
      if (p.role === 'admin' || (p.role === 'patient' && p.patientId === patientId)) return;
      throw forbidden('only the patient (or an admin recording their signed consent) can change consents');
    },
    /** Withdrawing a consent: the patient, an admin, or the grantee stepping back. */
    async mayRevokeConsent(p: Principal, patientId: string, granteeUserId: string | null): Promise<boolean> {
      if (p.role === 'admin' || (p.role === 'patient' && p.patientId === patientId)) return true;
      return granteeUserId !== null && granteeUserId === p.userId;
    },
    /** A care team's settings (its alert rules): admins for any team, a clinician for their own only. */
    assertTeamMember(p: Principal, practitionerId: string): void {
      if (!isStaffRole(p.role)) throw forbidden('clinician or admin role required');
      if (p.role !== 'admin' && p.practitionerId !== practitionerId) throw forbidden('clinicians may edit only their own care-team rules');
    },
    /** FHIR AuditEvent ((d)(3)): admins every entry (null), a patient the entries about themself, others nothing. */
    auditScope(p: Principal): string[] | null {
      if (p.role === 'admin') return null;
      if (p.role === 'patient' && p.patientId) return [p.patientId];
      throw forbidden('audit events are for admins, and for a patient about their own record');
    },
    /** Who opened a record (the access log): the patient themself and admins (breach investigation), not the care team. */
    assertSelfOrAdmin(p: Principal, patientId: string): void {
      if (p.role !== 'admin' && !(p.role === 'patient' && p.patientId === patientId))
        throw forbidden('only the patient and admins can see who opened this record');
    },
    /** A device is seen with its patient; an unassigned device (in stock, not yet given out) by admins only. */
    async canSeeDevice(p: Principal, d: { patientId: string | null }): Promise<boolean> {
      return d.patientId ? canSeePatient(p, d.patientId) : p.role === 'admin';
    },
    /** Bulk Data system-level `$export` (every patient's data): admins; others export their patients (Patient/$export). */
    /** SMART Backend Services read with the authority of an admin (the one who registered the service). */
    mayBackBackendService(p: Principal): boolean {
      return p.role === 'admin';
    },
    assertSystemExport(p: Principal): void {
      if (p.role !== 'admin') throw forbidden('a system-level $export needs the admin role (use Patient/$export for your patients)');
    },
    /**
     * SMART launch context (App Launch 2.x §launch-context): a patient's app opens on their own record; staff
     * choose the patient on the consent screen (`chosen`), which must be one they may see (checked on approve).
     */
    launchPatient(p: Principal, chosen: string | null): string | null {
      return p.role === 'patient' ? p.patientId : chosen;
    },
    /** Whether the consent screen asks this user which patient to share (staff yes, a patient is the patient). */
    choosesLaunchPatient(p: Principal): boolean {
      return p.role !== 'patient';
    },
    /**
     * A care team as a FHIR Group (its practitioner's patients): seen by admins and by that practitioner.
     * The members a caller gets are still only the patients they may see (visiblePatientIds).
     */
    careTeamsVisible(p: Principal): string[] | null {
      if (p.role === 'admin') return null;
      return p.role === 'clinician' && p.practitionerId ? [p.practitionerId] : [];
    },
    canSeeCareTeam(p: Principal, practitionerId: string): boolean {
      return p.role === 'admin' || (p.role === 'clinician' && p.practitionerId === practitionerId);
    },
    /** The `fhirUser` claim (SMART §fhirUser): a patient's own Patient record, else the user's Practitioner. */
    fhirUserOf(p: Principal): { type: 'Patient' | 'Practitioner'; id: string } | null {
      if (p.role === 'patient') return p.patientId ? { type: 'Patient', id: p.patientId } : null;
      return p.practitionerId ? { type: 'Practitioner', id: p.practitionerId } : null;
    },

    // Telehealth (messages, appointments, visits).
    /** A patient account acting for its own record ({patientId}, which may be null if unlinked); null for anyone else. */
    patientSelf(p: Principal): { patientId: string | null } | null {
      return p.role === 'patient' ? { patientId: p.patientId ?? null } : null;
    },
    /**
     * How a person takes part in a patient's threads and visits: the patient, a caregiver the patient's consent
     * names (the patient side), or care-team staff. Anyone else (a guest principal) takes no part (403).
     */
    participantKind(p: Principal): 'patient' | 'caregiver' | 'staff' {
      if (p.role === 'patient') return 'patient';
      if (p.role === 'caregiver') return 'caregiver';
      if (isStaffRole(p.role)) return 'staff';
      throw forbidden('this account takes no part in messages or visits');
    },
    /** Admins see every clinician's schedule; a clinician sees their own (or a visible patient's care team). */
    seesAllSchedules(p: Principal): boolean {
      return p.role === 'admin';
    },
    /** Booking, cancelling or moving an appointment: the patient themself or staff (a caregiver reads the calendar only). */
    assertSchedulesFor(p: Principal): void {
      if (p.role !== 'patient' && !isStaffRole(p.role)) throw forbidden('only the patient or the care team can book, cancel or move an appointment');
    },
    /** Writing about a patient (a FHIR Communication): a patient only about themself (403); others about patients they may see (404). */
    async assertWritesAbout(p: Principal, patientId: string): Promise<void> {
      if (p.role === 'patient' && p.patientId !== patientId)
        throw forbidden('a patient can send messages only about themself (subject must be your own Patient)');
      await this.assertPatient(p, patientId);
    },
  };
}

export type AccessPolicy = ReturnType<typeof createAccessPolicy>;
