import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { createJsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { policy, type RoutePolicy } from './policy.ts';

export const OPENAPI_PATH = '/api/openapi.json';
export const DOCS_PREFIX = '/api/docs';

const describePolicy = (p: RoutePolicy | undefined): string => {
  if (!p) return 'no policy';
  switch (p.kind) {
    case 'public':
      return `public (${p.reason})`;
    case 'device':
      return `device secret of :${p.param}`;
    case 'signed-in':
    case 'staff':
      return `${p.kind} — ${p.scope}`;
    case 'admin':
      return 'admin';
    case 'patient':
      return `a user who may see patient :${p.param}`;
    case 'manage-patient':
      return `admin or a clinician of patient :${p.param}`;
  }
};

/**
 * OpenAPI 3.1, generated from the routes' zod schemas (@fastify/swagger + fastify-type-provider-zod),
 * served at /api/openapi.json, with Swagger UI at /api/docs. Both are public: they describe the API and
 * hold no data. Each operation's description says its access policy.
 */
export async function registerOpenApi(app: FastifyInstance, opts: { version: string }) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Vigil app API',
        version: opts.version,
        description:
          'Remote patient monitoring. Sign in (cookie `vigil_session`) or send `Authorization: Bearer <api token>`. Errors: `{"error": {"code", "message"}}`.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, session: { type: 'apiKey', in: 'cookie', name: 'vigil_session' } } },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform: (doc) => {
      if (!doc.schema) return { schema: { hide: true }, url: doc.url }; // not yet schemed (routes.test.ts allow-list)
      const out = createJsonSchemaTransform({ skipList: [] })(doc);
      const p = (doc.route.config as { policy?: RoutePolicy } | undefined)?.policy;
      const hidden = (out.schema as { hide?: boolean }).hide || !(doc.url.startsWith('/api/v1') || doc.url.startsWith('/fhir') || doc.url === '/health');
      if (hidden) return { schema: { ...out.schema, hide: true }, url: out.url };
      const schema = { ...out.schema, description: `Access: ${describePolicy(p)}.`, ...(p?.kind === 'public' || p?.kind === 'device' ? { security: [] } : {}) };
      return { schema, url: out.url };
    },
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(async (scope) => {
    scope.addHook('onRoute', (r) => {
      r.config = { ...r.config, policy: policy.public('API documentation') };
      r.schema = { ...r.schema, hide: true };
    });
    await scope.register(swaggerUi, { routePrefix: DOCS_PREFIX, uiConfig: { docExpansion: 'list', deepLinking: true } });
    scope.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
  });
}
