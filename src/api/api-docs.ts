import { z } from 'zod';
import { LiveClientMessage, LiveServerMessage } from './contracts/index.ts';

/**
 * docs/api.md's reference sections are generated, never hand-written (issue 7): the route table from the
 * served OpenAPI document, the live-stream messages from the wire union in contracts/live.ts.
 * `npm run docs:api` rewrites them; openapi.test.ts fails when docs/api.md is stale.
 */

interface Operation {
  summary?: string;
  description?: string;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();

/** One row per operation, grouped by the path's first segment after the prefix, in path order. */
export function renderRouteTable(doc: OpenApiDocument): string {
  const rows = Object.entries(doc.paths)
    .flatMap(([path, ops]) => METHODS.filter((m) => ops[m]).map((m) => ({ path, method: m.toUpperCase(), op: ops[m]! })))
    .sort((a, b) => a.path.localeCompare(b.path) || METHODS.indexOf(a.method.toLowerCase()) - METHODS.indexOf(b.method.toLowerCase()));
  const lines = ['| Method | Path | What | Access |', '|---|---|---|---|'];
  for (const r of rows) {
    const access = (r.op.description ?? '').replace(/^Access: /, '').replace(/\.$/, '');
    lines.push(`| ${r.method} | \`${r.path}\` | ${cell(r.op.summary ?? '')} | ${cell(access)} |`);
  }
  return lines.join('\n');
}

/** Each message of a discriminated union as `type` and its fields. */
function renderUnion(union: z.ZodDiscriminatedUnion): string {
  return union.options
    .map((option) => {
      const schema = z.toJSONSchema(option as z.ZodType, { io: 'output', unrepresentable: 'any' }) as {
        properties?: Record<string, { const?: unknown; enum?: unknown[] }>;
        required?: string[];
      };
      const props = schema.properties ?? {};
      const type = props.type?.const ?? props.type?.enum?.join('" | "');
      const fields = Object.keys(props)
        .filter((k) => k !== 'type')
        .map((k) => (schema.required?.includes(k) ? k : `${k}?`));
      return `- \`"${String(type)}"\`${fields.length ? `: ${fields.map((f) => `\`${f}\``).join(', ')}` : ''}`;
    })
    .join('\n');
}

export function renderLiveMessages(): string {
  return [
    'Server → client:',
    '',
    renderUnion(LiveServerMessage as unknown as z.ZodDiscriminatedUnion),
    '',
    'Client → server:',
    '',
    renderUnion(LiveClientMessage as unknown as z.ZodDiscriminatedUnion),
  ].join('\n');
}

const marker = (name: string) => [`<!-- generated:${name} (npm run docs:api) -->`, `<!-- /generated:${name} -->`] as const;

/** Replaces the text between a section's markers; throws when the markers are missing. */
export function replaceGenerated(markdown: string, name: string, content: string): string {
  const [open, close] = marker(name);
  const start = markdown.indexOf(open);
  const end = markdown.indexOf(close);
  if (start < 0 || end < start) throw new Error(`docs/api.md has no ${open} … ${close} section`);
  return markdown.slice(0, start + open.length) + '\n' + content + '\n' + markdown.slice(end);
}

/** docs/api.md with every generated section brought up to date. */
export function renderApiDocs(markdown: string, doc: OpenApiDocument): string {
  return replaceGenerated(replaceGenerated(markdown, 'routes', renderRouteTable(doc)), 'live', renderLiveMessages());
}
