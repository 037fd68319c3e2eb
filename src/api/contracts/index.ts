/**
 * The API contract: one zod schema per request and response shape, shared by the server (validation,
 * OpenAPI at /api/openapi.json) and the web app (types via `import type`). Leaf module: imports only zod.
 */
export * from './common.ts';
export * from './auth.ts';
export * from './patients.ts';
export * from './devices.ts';
export * from './users.ts';
export * from './alerts.ts';
export * from './commands.ts';
export * from './live.ts';
export * from './fhir.ts';
export * from './privacy.ts';
export * from './messaging.ts';
export * from './visit-signalling.ts';
export * from './appointments.ts';
export * from './telehealth-fhir.ts';
export * from './tasks.ts';
