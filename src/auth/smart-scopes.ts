/**
 * SMART App Launch 2.x scopes (§scopes-and-launch-context): `patient/Observation.rs`, `patient/Observation.cu`,
 * `user/*.cruds`, and the v1 forms `patient/*.read` (= rs) and `user/*.write` (= cud). Vigil's FHIR API does
 * create (c), read (r), update (u) and search (s), never delete, so `d` is not granted; the token response
 * says exactly what was granted. A write also needs the user's own right to it (auth/access.ts): a scope
 * only ever narrows what the user may do. `system/<Type>.rs` is for backend services (SMART Backend Services:
 * client_credentials with a signed assertion, no user present): granted only to such apps, read and search
 * only, with the authority of the admin who registered the app.
 */

export type Interaction = 'create' | 'read' | 'update' | 'search';

export interface ScopeGrant {
  context: 'patient' | 'user' | 'system';
  type: string; // a resource type or '*'
  create: boolean;
  read: boolean;
  update: boolean;
  search: boolean;
}

export const SUPPORTED_SCOPES = [
  'openid',
  'fhirUser',
  'launch',
  'launch/patient',
  'offline_access',
  'online_access',
  'patient/*.rs',
  'user/*.rs',
  'patient/*.crus',
  'user/*.crus',
  'patient/*.read',
  'user/*.read',
  'patient/*.write',
  'user/*.write',
];
const SPECIAL = new Set(['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access']);

export function parseScope(s: string): ScopeGrant | null {
  const m = /^(patient|user|system)\/([A-Za-z]+|\*)\.(read|write|\*|[cruds]+)$/.exec(s);
  if (!m) return null;
  // v2 letters must come in the order c r u d s, each at most once (App Launch 2.x §scopes-for-requesting-fhir-resources).
  if (!['read', 'write', '*'].includes(m[3]) && !/^c?r?u?d?s?$/.test(m[3])) return null;
  const perms = m[3] === 'read' ? 'rs' : m[3] === 'write' ? 'cud' : m[3] === '*' ? 'cruds' : m[3];
  return {
    context: m[1] as ScopeGrant['context'],
    type: m[2],
    create: perms.includes('c'),
    read: perms.includes('r'),
    update: perms.includes('u'),
    search: perms.includes('s'),
  };
}

/** Backend services may ask for these (SMART Backend Services §scopes); read and search only. */
export const SYSTEM_SCOPES = ['system/*.rs', 'system/*.read'];

/**
 * The part of a requested scope string this server grants, as a scope string (v2 spelling for resources).
 * An app with a user (authorization code) gets no `system/` scope; a backend service gets only `system/`
 * read and search scopes.
 */
export function grantScopes(requested: string, to: 'user-app' | 'backend' = 'user-app'): string[] {
  const out: string[] = [];
  for (const s of requested.split(/\s+/).filter(Boolean)) {
    if (SPECIAL.has(s)) {
      if (to === 'user-app') out.push(s);
    } else {
      const g = parseScope(s);
      if (!g || (g.context === 'system') !== (to === 'backend')) continue;
      if (to === 'backend') {
        g.create = false;
        g.update = false;
      }
      const letters = `${g.create ? 'c' : ''}${g.read ? 'r' : ''}${g.update ? 'u' : ''}${g.search ? 's' : ''}`;
      if (letters) out.push(`${g.context}/${g.type}.${letters}`);
    }
  }
  return [...new Set(out)];
}

export function allows(scopes: string[], type: string, interaction: Interaction): boolean {
  return scopes.some((s) => {
    const g = parseScope(s);
    // A patient-context grant acts on the launch patient's data: it never registers a new Patient.
    if (g && interaction === 'create' && type === 'Patient' && g.context === 'patient') return false;
    return !!g && (g.type === '*' || g.type === type) && g[interaction];
  });
}

/**
 * True when any resource grant is patient-scoped: the token then sees its launch patient only. A set mixing
 * `patient/` and `user/` grants takes the narrower reading (found by review: `patient/*.cruds
 * user/Practitioner.rs` wrote to every patient the clinician could see, while the consent screen said "of the
 * chosen patient").
 */
export const patientOnly = (scopes: string[]) => scopes.map(parseScope).some((g) => g?.context === 'patient');
