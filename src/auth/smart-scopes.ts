/**
 * SMART App Launch 2.x scopes (§scopes-and-launch-context): `patient/Observation.rs`, `user/*.rs`, and the
 * v1 forms `patient/*.read`. Vigil's FHIR API reads, so only read (r) and search (s) can be granted; a
 * request for more is granted the read part and the token response says exactly what was granted.
 */

export type Interaction = 'read' | 'search';

export interface ScopeGrant {
  context: 'patient' | 'user';
  type: string; // a resource type or '*'
  read: boolean;
  search: boolean;
}

export const SUPPORTED_SCOPES = ['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access', 'patient/*.rs', 'user/*.rs', 'patient/*.read', 'user/*.read'];
const SPECIAL = new Set(['openid', 'fhirUser', 'launch', 'launch/patient', 'offline_access', 'online_access']);

export function parseScope(s: string): ScopeGrant | null {
  const m = /^(patient|user|system)\/([A-Za-z]+|\*)\.(read|write|\*|[cruds]+)$/.exec(s);
  if (!m || m[1] === 'system') return null;
  const perms = m[3] === 'read' || m[3] === '*' ? 'rs' : m[3] === 'write' ? '' : m[3];
  return { context: m[1] as 'patient' | 'user', type: m[2], read: perms.includes('r'), search: perms.includes('s') };
}

/** The part of a requested scope string this server grants, as a scope string (v2 spelling for resources). */
export function grantScopes(requested: string): string[] {
  const out: string[] = [];
  for (const s of requested.split(/\s+/).filter(Boolean)) {
    if (SPECIAL.has(s)) out.push(s);
    else {
      const g = parseScope(s);
      if (g && (g.read || g.search)) out.push(`${g.context}/${g.type}.${g.read ? 'r' : ''}${g.search ? 's' : ''}`);
    }
  }
  return [...new Set(out)];
}

export function allows(scopes: string[], type: string, interaction: Interaction): boolean {
  return scopes.some((s) => {
    const g = parseScope(s);
    return !!g && (g.type === '*' || g.type === type) && (interaction === 'read' ? g.read : g.search);
  });
}

/** True when every resource grant is patient-scoped (then the token sees its launch patient only). */
export const patientOnly = (scopes: string[]) => {
  const grants = scopes.map(parseScope).filter((g): g is ScopeGrant => g !== null);
  return grants.length > 0 && grants.every((g) => g.context === 'patient');
};
