/**
 * `npm run docs:api`: boots the app on a throwaway data dir, reads its OpenAPI document and rewrites the
 * generated sections of docs/api.md (route table, live-stream messages). openapi.test.ts checks they match.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/config.ts';
import { startApp } from '../src/app.ts';
import { createLogger } from '../src/platform/logger.ts';
import { renderApiDocs, type OpenApiDocument } from '../src/api/api-docs.ts';

const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/api.md');
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-api-docs-'));
process.stderr.write('Starting a throwaway server to read its OpenAPI document…\n');
const app = await startApp(loadConfig({ VIGIL_HTTP_PORT: '0', VIGIL_MQTT_PORT: '0', VIGIL_DATA_DIR: dataDir, VIGIL_DEMO: '0' }), {
  logger: createLogger('warn'),
});
try {
  const doc = (await (await fetch(`${app.httpUrl}/api/openapi.json`)).json()) as OpenApiDocument;
  const before = await readFile(file, 'utf8');
  const after = renderApiDocs(before, doc);
  await writeFile(file, after);
  process.stdout.write(before === after ? 'docs/api.md is up to date\n' : 'docs/api.md rewritten\n');
} finally {
  await app.close();
  await rm(dataDir, { recursive: true, force: true });
}
