/** Plain data shapes shared across modules. */

/** Staff (admin, clinician), the patient, a caregiver the patient named (consent), a visit guest. See auth/access.ts. */
export type Role = 'admin' | 'clinician' | 'patient' | 'caregiver' | 'guest';

/** One decoded measurement, before storage. `ts` is epoch ms. */
export interface Reading {
  code: string;
  value: number;
  unit: string;
  ts: number;
}

export interface StoredReading extends Reading {
  id: string;
  patientId: string;
  deviceId: string | null;
  seq: number | null;
  commandId?: string | null;
  /** For derived observations: the algorithm that produced it. */
  method?: { name: string; version: string } | null;
  system?: string;
}

export interface EcgChunk {
  ts: number;
  seq: number | null;
  fs: number;
  lead: string;
  unit: string;
  samples: number[];
}

export interface StoredEcgChunk extends EcgChunk {
  id: string;
  patientId: string;
  deviceId: string;
}

export interface DeviceStatus {
  deviceId: string;
  patientId: string | null;
  online: boolean;
  battery?: number;
  ts: number;
}

export interface Rejection {
  deviceId: string;
  topic: string;
  reason: string;
  ts: number;
}

export interface Principal {
  userId: string;
  email: string;
  role: Role;
  /** For clinicians: their practitioner record (care team membership). */
  practitionerId: string | null;
  /** For patients: the one patient they may see. */
  patientId: string | null;
  displayName: string;
  /** How this request authenticated (issue 9): the session or token, its scope, and what it still needs. */
  credential?: Credential;
  /** Set when the caller is a SMART app acting for this user: what the user granted it (auth/smart-scopes.ts). */
  smart?: { clientId: string; scopes: string[]; patientId: string | null };
}

export interface Credential {
  kind: 'session' | 'token';
  id: string;
  /** Tokens: 'read' refuses every write. Sessions are 'write'. */
  scope: 'read' | 'write';
  /** Tokens limited to these patients (within what the account may see); null: the account's whole scope. */
  patients: string[] | null;
  /** Sessions: 'mfa' still needs the second factor, 'enrol' must enrol one first; only the MFA routes answer. */
  stage: 'full' | 'mfa' | 'enrol';
}
