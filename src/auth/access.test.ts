/**
 * The access decisions that moved here from alerts, alert rules and the audit routes (issue 7: no role
 * comparison outside src/auth). The care-team lookups are covered end to end by api/routes.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createAccessPolicy } from './access.ts';
import type { Principal, Role } from '../domain/types.ts';
import type { PatientsRepository } from '../store/patients.repository.ts';

// These decisions never need the database: a repository that throws proves it.
const access = createAccessPolicy({
  patients: new Proxy(
    {},
    {
      get: () => () => {
        throw new Error('not used');
      },
    },
  ) as PatientsRepository,
});
const who = (role: Role, extra: Partial<Principal> = {}): Principal => ({
  userId: `u-${role}`,
  email: `${role}@x`,
  role,
  practitionerId: null,
  patientId: null,
  displayName: role,
  ...extra,
});

describe('access decisions moved into auth/access.ts', () => {
  it('isStaff: clinicians and admins carry clinical work (alert assignees), patients do not', () => {
    expect(access.isStaff({ role: 'clinician' })).toBe(true);
    expect(access.isStaff({ role: 'admin' })).toBe(true);
    expect(access.isStaff({ role: 'patient' })).toBe(false);
  });

  it("assertTeamMember: admins edit any team's rules, a clinician only their own, a patient none", () => {
    expect(() => access.assertTeamMember(who('admin'), 'prac-1')).not.toThrow();
    expect(() => access.assertTeamMember(who('clinician', { practitionerId: 'prac-1' }), 'prac-1')).not.toThrow();
    expect(() => access.assertTeamMember(who('clinician', { practitionerId: 'prac-2' }), 'prac-1')).toThrow(/own care-team/);
    expect(() => access.assertTeamMember(who('clinician'), 'prac-1')).toThrow(/own care-team/);
    expect(() => access.assertTeamMember(who('patient', { practitionerId: 'prac-1' }), 'prac-1')).toThrow(/clinician or admin/);
  });

  it('assertSelfOrAdmin: the access log is for the patient themself and admins, not the care team', () => {
    expect(() => access.assertSelfOrAdmin(who('admin'), 'pat-1')).not.toThrow();
    expect(() => access.assertSelfOrAdmin(who('patient', { patientId: 'pat-1' }), 'pat-1')).not.toThrow();
    expect(() => access.assertSelfOrAdmin(who('patient', { patientId: 'pat-2' }), 'pat-1')).toThrow(/only the patient and admins/);
    expect(() => access.assertSelfOrAdmin(who('clinician', { practitionerId: 'prac-1' }), 'pat-1')).toThrow(/only the patient and admins/);
  });

  it('telehealth: patientSelf, participantKind, seesAllSchedules; assertWritesAbout refuses a patient writing about another (403)', async () => {
    expect(access.patientSelf(who('patient', { patientId: 'pat-1' }))).toEqual({ patientId: 'pat-1' });
    expect(access.patientSelf(who('patient'))).toEqual({ patientId: null });
    expect(access.patientSelf(who('clinician', { practitionerId: 'prac-1' }))).toBeNull();
    expect(access.patientSelf(who('admin'))).toBeNull();
    expect(access.participantKind(who('patient', { patientId: 'pat-1' }))).toBe('patient');
    expect(access.participantKind(who('clinician'))).toBe('staff');
    expect(access.participantKind(who('admin'))).toBe('staff');
    expect(access.participantKind(who('caregiver'))).toBe('caregiver');
    expect(() => access.participantKind(who('guest'))).toThrow(/no part/);
    expect(access.patientSelf(who('caregiver'))).toBeNull();
    expect(() => access.assertSchedulesFor(who('caregiver'))).toThrow(/only the patient or the care team/);
    expect(() => access.assertSchedulesFor(who('patient', { patientId: 'pat-1' }))).not.toThrow();
    expect(() => access.assertSchedulesFor(who('clinician'))).not.toThrow();
    expect(access.seesAllSchedules(who('admin'))).toBe(true);
    expect(access.seesAllSchedules(who('clinician'))).toBe(false);
    expect(access.seesAllSchedules(who('patient'))).toBe(false);
    await expect(access.assertWritesAbout(who('patient', { patientId: 'pat-2' }), 'pat-1')).rejects.toMatchObject({ status: 403 });
  });
});

describe('SMART scopes narrow what an app sees', () => {
  const admin = (scopes: string[], patientId: string | null = 'pat-a') => who('admin', { smart: { clientId: 'app', scopes, patientId } });
  it('patient/ grants: the launch patient only, also beside user/ grants (the narrower reading; found by review)', async () => {
    expect(await access.visiblePatientIds(admin(['patient/*.cruds']))).toEqual(['pat-a']);
    expect(await access.visiblePatientIds(admin(['patient/*.cruds', 'user/Practitioner.rs']))).toEqual(['pat-a']);
    expect(await access.visiblePatientIds(admin(['user/Practitioner.rs', 'patient/Observation.rs'], null))).toEqual([]);
    expect(await access.visiblePatientIds(admin(['user/*.rs', 'openid', 'fhirUser']))).toBeNull();
  });
});
