import { createRequire } from 'node:module';

/** Vigil's version (package.json), as the HTTP server and the FHIR CapabilityStatement report it. */
export const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
