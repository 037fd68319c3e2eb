/** The served OpenAPI document is valid OpenAPI 3.1 and describes every API route with its schemas. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import SwaggerParser from '@apidevtools/swagger-parser';
import { bootApp, type TestApp } from '../../test/support/app.ts';
import { isApiRoute } from './policy.ts';
import { readFile } from 'node:fs/promises';
import { renderApiDocs, type OpenApiDocument } from './api-docs.ts';

describe('OpenAPI', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await bootApp();
  });
  afterAll(async () => app && (await app.stop()));

  it('serves /api/openapi.json without sign-in, and it validates as OpenAPI 3.1', async () => {
    const res = await fetch(`${app.httpUrl}/api/openapi.json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { description?: string; requestBody?: unknown; parameters?: Array<{ name: string; in: string }> }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(doc) as never);

    // Every API route is in it (OpenAPI writes /x/{id} for /x/:id), with its access policy.
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)));
    for (const r of app.routes
      .routes()
      .filter(isApiRoute)
      .filter((x) => x.method !== 'HEAD' && !x.websocket && x.hasResponseSchema)) {
      // @fastify/swagger writes a trailing wildcard `*` as `{*}`.
      const name = `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}').replace(/\/\*$/, '/{*}')}`;
      expect(documented.has(name), name).toBe(true);
    }
    const create = doc.paths['/api/v1/patients'].post;
    expect(create.requestBody).toBeDefined();
    expect(create.description).toContain('staff');
    expect(doc.paths['/health'].get.description).toContain('public');
    const readings = doc.paths['/api/v1/patients/{id}/readings'].get;
    expect(readings.parameters!.map((p) => `${p.in}:${p.name}`)).toEqual(expect.arrayContaining(['path:id', 'query:code', 'query:from', 'query:maxPoints']));
    expect(readings.description).toContain('may see patient');
  });

  it('serves the docs page', async () => {
    const res = await fetch(`${app.httpUrl}/api/docs/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('swagger');
  });

  it('docs/api.md carries the generated route table and live-stream messages, up to date (else: npm run docs:api)', async () => {
    const doc = (await (await fetch(`${app.httpUrl}/api/openapi.json`)).json()) as OpenApiDocument;
    const page = await readFile(new URL('../../docs/api.md', import.meta.url), 'utf8');
    expect(page).toContain('| GET | `/api/v1/patients/{id}` |');
    expect(page).toContain('`"hello"`: `protocol`');
    expect(renderApiDocs(page, doc), 'docs/api.md is stale: run npm run docs:api').toBe(page);
  });
});
