/**
 * The small clinic the telehealth suites share (messaging, visits, emails, instances): two patients, a nurse on
 * the first one's care team, a clinician outside it, an admin, and each patient's own token.
 */
import { bootApp, type TestApp } from './app.ts';

export interface Clinic {
  app: TestApp;
  /** Patient ids: Alice is on the nurse's care team, Bob is not. */
  alice: string;
  bob: string;
  nurse: { token: string; email: string; practitionerId: string | null };
  /** A clinician outside Alice's care team. */
  stranger: string;
  admin: string;
  /** Alice's and Bob's own tokens. */
  patientA: string;
  patientB: string;
}

export async function bootClinic(opts: Parameters<typeof bootApp>[0] = {}): Promise<Clinic> {
  const app = await bootApp(opts);
  const s = app.services;
  const alice = (await s.patientService.create({ name: 'Alice Ames', birthDate: '1941-03-02' }, 'system')).id;
  const bob = (await s.patientService.create({ name: 'Bob Brown', birthDate: '1950-07-14' }, 'system')).id;
  const nurse = await app.tokenFor('clinician');
  await s.patientService.assignClinician(alice, nurse.practitionerId!, 'system');
  return {
    app,
    alice,
    bob,
    nurse,
    stranger: (await app.tokenFor('clinician')).token,
    admin: (await app.tokenFor('admin')).token,
    patientA: (await app.tokenFor('patient', { patientId: alice })).token,
    patientB: (await app.tokenFor('patient', { patientId: bob })).token,
  };
}

/** Retries an assertion until it holds (or `ms` pass, then throws its last error). */
export async function expectEventually<T>(check: () => T | Promise<T>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
