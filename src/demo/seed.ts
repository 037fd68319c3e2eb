import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AuthService } from '../auth/auth.service.ts';
import type { PatientService } from '../patients/patient.service.ts';
import type { DeviceService } from '../devices/device.service.ts';
import { makeVirtualPatients, type SimPatient, type DeviceKind } from '../simulator/index.ts';
import { generatePassword } from '../auth/passwords.ts';

/** What a patient reads on their device list. */
const DEVICE_LABEL: Record<DeviceKind, string> = {
  vitals: 'Pulse oximeter',
  bp: 'Blood pressure cuff',
  cgm: 'Glucose sensor',
  ecg: 'ECG patch',
  scale: 'Bathroom scale',
  thermometer: 'Thermometer',
};

/** The device type Vigil records for each simulated device kind. */
export const DEVICE_TYPE_OF: Record<DeviceKind, string> = {
  vitals: 'pulse-oximeter',
  bp: 'bp-cuff',
  cgm: 'cgm',
  ecg: 'ecg',
  scale: 'scale',
  thermometer: 'thermometer',
};

export interface DemoClinic {
  logins: Array<{ email: string; password: string; role: string; name: string }>;
  patients: SimPatient[];
}

const DEMO_FILE = 'demo-clinic.json'; // demo credentials and simulated device secrets (0600); never in a real clinic

/**
 * Seeds the demo clinic on an empty database: an admin, two clinicians with their care teams, virtual
 * patients with provisioned devices, and one patient login. Device secrets are kept (demo only) so that the
 * simulator can connect again after a restart.
 */
export async function seedDemoClinic(
  s: { auth: AuthService; patientService: PatientService; deviceService: DeviceService },
  dataDir: string,
  patientCount = 12,
): Promise<DemoClinic> {
  const logins: DemoClinic['logins'] = [];
  const user = async (email: string, role: 'admin' | 'clinician' | 'patient', name: string, patientId?: string) => {
    const password = generatePassword();
    const u = await s.auth.createUser({ email, role, displayName: name, password, patientId: patientId ?? null, practitionerName: name }, 'system');
    logins.push({ email, password, role, name });
    return u;
  };
  await user('admin@vigil.demo', 'admin', 'Clinic Admin');
  const nurse = await user('nurse@vigil.demo', 'clinician', 'Nurse Jordan Reyes');
  const doctor = await user('doctor@vigil.demo', 'clinician', 'Dr. Amelia Hart');

  const virtual = makeVirtualPatients(patientCount, 7);
  const patients: SimPatient[] = [];
  for (const [i, v] of virtual.entries()) {
    const { id } = await s.patientService.create(
      { name: v.name, birthDate: v.birthDate, sex: v.profile.sex, settings: { spo2Scale: v.profile.spo2Scale, onOxygen: false } },
      'system',
    );
    await s.patientService.assignClinician(id, nurse.practitionerId!, 'system');
    if (i % 2 === 0) await s.patientService.assignClinician(id, doctor.practitionerId!, 'system');
    const devices = [];
    for (const kind of v.deviceKinds) {
      const d = await s.deviceService.provision({ patientId: id, type: DEVICE_TYPE_OF[kind], name: DEVICE_LABEL[kind] }, 'system');
      devices.push({ deviceId: d.id, secret: d.secret, kind });
    }
    patients.push({ patientId: id, name: v.name, profile: v.profile, devices, scenario: v.scenario });
  }
  await user('patient@vigil.demo', 'patient', patients[0].name, patients[0].patientId);
  const clinic = { logins, patients };
  const file = path.join(dataDir, DEMO_FILE);
  await writeFile(file, JSON.stringify(clinic, null, 1), { mode: 0o600 });
  await chmod(file, 0o600);
  return clinic;
}

export async function loadDemoClinic(dataDir: string): Promise<DemoClinic | null> {
  try {
    return JSON.parse(await readFile(path.join(dataDir, DEMO_FILE), 'utf8')) as DemoClinic;
  } catch {
    return null;
  }
}
