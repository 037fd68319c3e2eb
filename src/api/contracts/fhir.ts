import { z } from 'zod';

/**
 * FHIR R4 (docs/fhir.md), SMART App Launch 2.x, Bulk Data and the CSV routes. A FHIR answer is a resource
 * whose structure is FHIR's own (validated by the FHIR tests with Medplum's validator and the R4 profiles),
 * so the contract states what every answer has (`resourceType`) and the parameters the router accepts;
 * search parameters are parsed by the FHIR service, which names a bad one (400 OperationOutcome).
 */
export const FhirResource = z.looseObject({ resourceType: z.string() }).meta({ id: 'FhirResource' });
/** Every FHIR error answer: an OperationOutcome (errors.ts). */
export const OperationOutcome = z
  .looseObject({
    resourceType: z.literal('OperationOutcome'),
    issue: z
      .array(z.looseObject({ severity: z.enum(['fatal', 'error', 'warning', 'information']), code: z.string(), diagnostics: z.string().optional() }))
      .min(1),
  })
  .meta({ id: 'OperationOutcome' });

/** A resource type name or an operation (`$export`): FHIR names are letters; ids follow the id rule. */
const TypeName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^(\$[a-z][a-z-]*|[A-Z][A-Za-z]*)$/, 'a FHIR resource type (e.g. Observation) or an operation ($name)');
/**
 * FHIR id rule `[A-Za-z0-9\-\.]{1,64}` (§2.24), plus `_` because Vigil's internal ids (`pat_…`, from the REST
 * API) are accepted on input too (api/fhir/ids.ts); `$op` names a type-level operation (Observation/$lastn).
 */
const FhirId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^(\$[a-z][a-z-]*|[A-Za-z0-9\-._]{1,64})$/, 'a FHIR id ([A-Za-z0-9-.]{1,64})');
export const FhirTypeParams = z.object({ type: TypeName });
export const FhirReadParams = FhirTypeParams.extend({ id: FhirId });
export const FhirOperationParams = FhirReadParams.extend({ op: z.string().min(1).max(64) });
export const FhirVersionParams = FhirReadParams.extend({ vid: z.string().min(1).max(64) });
export const FhirAnyPathParams = FhirReadParams.extend({ '*': z.string().max(256) });

const SearchValue = z.union([z.string(), z.array(z.string())]).optional();
/** The common search parameters, named for the API description; any other passes through to the FHIR service. */
export const FhirSearchQuery = z
  .object({
    _count: SearchValue,
    _cursor: SearchValue,
    _id: SearchValue,
    _lastUpdated: SearchValue,
    _summary: SearchValue,
    _elements: SearchValue,
    _total: SearchValue,
    _sort: SearchValue,
    _include: SearchValue,
    _revinclude: SearchValue,
    patient: SearchValue,
    subject: SearchValue,
    code: SearchValue,
    date: SearchValue,
  })
  .catchall(SearchValue);

/** Bulk Data IG v2 kick-off parameters (the service names an unsupported one). */
export const BulkExportQuery = z.object({ _type: SearchValue, _since: SearchValue, _outputFormat: SearchValue }).catchall(SearchValue);
export const BulkJobParams = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/, 'an export id'),
});
export const BulkFileParams = BulkJobParams.extend({
  name: z
    .string()
    .min(1)
    .max(80)
    .regex(/^[A-Z][A-Za-z]+\.ndjson$/, 'a file name such as Observation.ndjson'),
});
export const GroupParams = z.object({ id: FhirId });
/** The completed export (Bulk Data IG §response-complete-status). */
export const BulkManifest = z
  .object({
    transactionTime: z.string(),
    request: z.string(),
    requiresAccessToken: z.boolean(),
    output: z.array(z.object({ type: z.string(), url: z.string(), count: z.number().int().optional() })),
    error: z.array(z.object({ type: z.string(), url: z.string() })),
  })
  .meta({ id: 'BulkManifest' });
/** NDJSON streamed from disk. */
export const Ndjson = z.string().describe('application/fhir+ndjson');
export const Empty = z.null().describe('no content');

/** /.well-known/smart-configuration (SMART App Launch 2.x §2.1). */
export const SmartConfiguration = z
  .looseObject({
    issuer: z.string(),
    jwks_uri: z.string(),
    authorization_endpoint: z.string(),
    token_endpoint: z.string(),
    grant_types_supported: z.array(z.string()),
    scopes_supported: z.array(z.string()),
    response_types_supported: z.array(z.string()),
    code_challenge_methods_supported: z.array(z.string()),
    capabilities: z.array(z.string()),
  })
  .meta({ id: 'SmartConfiguration' });

/**
 * OAuth 2 request parameters (the authorize screen's query and form, the token endpoint's form) as text.
 * RFC 6749 §3.1: a parameter appears at most once, so a repeated one (an array) is refused, naming it.
 */
export const OAuthParams = z.record(z.string(), z.string({ error: 'must appear once, as text (RFC 6749 §3.1)' })).default({});

export const SmartAppBody = z.object({
  name: z.string().min(1).max(200),
  /** Where the authorization answer may go; none for a backend service (jwks without redirect URIs). */
  redirectUris: z.array(z.string().min(1).max(2000)).max(20).default([]),
  /** EHR launch (SMART App Launch 2.x §ehr-launch): where Vigil opens the app with `iss` and `launch`. */
  launchUrl: z.string().min(1).max(2000).optional(),
  /** A confidential client (a server-side app that can keep a secret): the answer carries its client secret, once. */
  confidential: z.boolean().optional(),
  /**
   * The public keys (RS384 or ES384) the app signs its client assertions with (private_key_jwt, RFC 7523).
   * With redirect URIs: a user-facing confidential app ("client-confidential-asymmetric"). Without: a backend
   * service (SMART Backend Services, no user), reading with the authority of the admin who registers it,
   * through system/ scopes.
   */
  jwks: z.object({ keys: z.array(z.looseObject({ kty: z.string() })).max(10) }).optional(),
  /**
   * Or the URL where the app publishes that JWK Set (SMART's strongly preferred way: the app rotates its own
   * keys there): https (http only for localhost); fetched when an assertion is checked, kept as long as its
   * Cache-Control allows. Give jwks or jwksUrl, not both.
   */
  jwksUrl: z.string().min(1).max(2000).optional(),
});
export const SmartApp = z
  .object({
    id: z.string(),
    name: z.string(),
    redirectUris: z.array(z.string()),
    launchUrl: z.string().optional(),
    confidential: z.boolean(),
    /** Confidential with keys (private_key_jwt) rather than a secret. */
    asymmetric: z.boolean(),
    backend: z.boolean(),
    /** Only in the answer to the registration, and only for a confidential client: keep it, it is not shown again. */
    clientSecret: z.string().optional(),
  })
  .meta({ id: 'SmartApp' });
export type SmartApp = z.infer<typeof SmartApp>;

/** GET /api/v1/smart/apps (admins): every registered app and what it holds now. */
export const SmartAppSummary = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.enum(['public', 'confidential', 'asymmetric', 'backend']),
    redirectUris: z.array(z.string()),
    launchUrl: z.string().nullable(),
    /** Where the app publishes its public keys (null: registered as a JWK Set, or an app without keys). */
    jwksUrl: z.string().nullable(),
    createdAt: z.string(),
    /** A backend service reads with the authority of this admin. */
    actsAs: z.object({ userId: z.string(), email: z.string() }).nullable(),
    /** Access and refresh tokens that work now. */
    liveTokens: z.number().int(),
    users: z.number().int(),
    lastTokenAt: z.string().nullable(),
  })
  .meta({ id: 'SmartAppSummary' });
export type SmartAppSummary = z.infer<typeof SmartAppSummary>;
export const SmartAppList = z.array(SmartAppSummary).meta({ id: 'SmartAppList' });
export type SmartAppList = z.infer<typeof SmartAppList>;
export const SmartAppParams = z.object({ id: z.string().min(1).max(100) });
/** PATCH /api/v1/smart/apps/{id}: what may be corrected; the kind of app stays (register a new one to change it). */
export const SmartAppPatchBody = z
  .strictObject({
    name: z.string().min(1).max(200).optional(),
    redirectUris: z.array(z.string().max(2000)).max(20).optional(),
    /** null: no longer offered on the patient page. */
    launchUrl: z.string().max(2000).nullable().optional(),
    /** Key rotation for an app that signs assertions: the new JWK Set replaces the old. */
    jwks: z
      .object({
        keys: z
          .array(z.looseObject({ kty: z.string() }))
          .min(1)
          .max(10),
      })
      .optional(),
    /** Or where the app publishes its keys from now on (replaces a registered set, and the other way round). */
    jwksUrl: z.string().min(1).max(2000).optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'name at least one of name, redirectUris, launchUrl, jwks, jwksUrl');
/** POST /api/v1/smart/apps/{id}/secret: the new client secret, shown once. */
export const SmartAppSecret = z.object({ clientSecret: z.string() }).meta({ id: 'SmartAppSecret' });
/** POST /api/v1/smart/apps/{id}/revoke and DELETE /api/v1/smart/apps/{id}: how many live tokens ended. */
export const SmartAppRevoked = z.object({ revokedTokens: z.number().int() }).meta({ id: 'SmartAppRevoked' });
export const SmartAppRemoved = z.object({ id: z.string(), revokedTokens: z.number().int() }).meta({ id: 'SmartAppRemoved' });

/** GET /api/v1/smart/apps/launchable: the registered apps that can be opened on a patient (they have a launch URL). */
export const LaunchableSmartApps = z.array(z.object({ id: z.string(), name: z.string() })).meta({ id: 'LaunchableSmartApps' });
export type LaunchableSmartApps = z.infer<typeof LaunchableSmartApps>;

/** POST /api/v1/smart/launch: open a registered app on a patient (EHR launch). */
export const SmartLaunchBody = z.object({ clientId: z.string().min(1).max(100), patientId: z.string().min(1).max(200) });
export const SmartLaunch = z
  .object({
    launch: z.string(),
    iss: z.string(),
    /** The app's launch URL with `iss` and `launch`, when the app registered one. */
    url: z.string().nullable(),
  })
  .meta({ id: 'SmartLaunch' });
export type SmartLaunch = z.infer<typeof SmartLaunch>;

/** GET /api/v1/patients/{id}/readings.csv: one row per reading (time, code, display, value, unit, device). */
export const ReadingsCsvQuery = z.object({
  from: z.string().max(64).optional(),
  to: z.string().max(64).optional(),
  code: z.string().max(2000).optional(),
  codes: z.string().max(2000).optional(),
});
export const CsvText = z.string().describe('text/csv, header time,code,display,value,unit,device');

export const IMPORT_BATCH_MAX = 10_000;
/** POST /api/v1/readings/import: rows already parsed and unit-converted by `vigil import csv`. */
export const ReadingsImportBody = z.object({
  rows: z
    .array(
      z.object({
        line: z.number().int().nonnegative(),
        patient: z.string().min(1).max(200),
        code: z.string().min(1).max(64),
        value: z.number().finite(),
        unit: z.string().min(1).max(32),
        ts: z.number().int(),
        device: z.string().min(1).max(200).optional(),
      }),
    )
    .max(IMPORT_BATCH_MAX),
});
export const ReadingsImportResult = z.object({
  stored: z.number().int(),
  duplicates: z.number().int(),
  rejections: z.array(z.object({ line: z.number().int(), reason: z.string() })),
});

/** Where the SMART authorize screen lives: the only place a sign-in in the web app may send the browser back to. */
export const SMART_AUTHORIZE_PATH = '/oauth/authorize';

/**
 * The return path after signing in through the web app (passkeys, the second step, setting one up) for a
 * SMART authorization request: `/oauth/authorize` with its query, on this origin, or null. Anything else is
 * refused, not repaired (no open redirect): absolute and scheme-relative URLs (`https://…`, `//host`, `/\host`),
 * other paths (also via `..` or encoded slashes), `javascript:` and other schemes, whitespace and control
 * characters, a fragment. Shared by the server (`GET /oauth/web-sign-in`) and the web app (`#/sign-in?return=…`).
 */
export function smartReturnPath(raw: unknown): string | null {
  if (typeof raw !== 'string' || raw.length > 8000) return null;
  // Control characters, spaces and backslashes: browsers drop or rewrite them ("/\host" is "//host").
  if (/[\s\\\p{Cc}]/u.test(raw)) return null;
  if (raw !== SMART_AUTHORIZE_PATH && !raw.startsWith(`${SMART_AUTHORIZE_PATH}?`)) return null;
  let url: URL;
  try {
    url = new URL(raw, 'http://return.invalid');
  } catch {
    return null;
  }
  if (url.origin !== 'http://return.invalid' || url.pathname !== SMART_AUTHORIZE_PATH || url.hash || raw.includes('#')) return null;
  return `${SMART_AUTHORIZE_PATH}${url.search}`;
}
