import type { Principal } from '../../domain/types.ts';
import type { AuditService } from '../../audit/audit.service.ts';
import type { AccessPolicy } from '../../auth/access.ts';
import type { Clock } from '../../platform/clock.ts';
import type { FhirContext, FhirRegistry } from '../fhir/registry.ts';
import { parseSearch } from '../fhir/search/params.ts';
import { toFhirId } from '../fhir/ids.ts';
import { AppError } from '../../platform/errors.ts';

type Resource = { resourceType: string; id?: string; [k: string]: unknown };

/** Most resources one export holds (a year of minute vitals is ~500,000 Observations: past this, use Bulk $export). */
const MAX_RESOURCES = 200_000;
const PAGE = 1000;

/**
 * The patient's copy of their record (GDPR art. 15 right of access and art. 20 portability; HIPAA
 * §164.524 right of access): a FHIR R4 Bundle — Patient/$everything (the patient, devices, care team,
 * every Observation) plus every other registered type that is searchable by patient (messages,
 * appointments, encounters…) — and a readable HTML summary of the same data that prints to PDF.
 * Only the patient themself and admins (acting on a request) may export; every export is audited.
 */
export function createPatientExport(deps: {
  registry: FhirRegistry;
  everything(
    ctx: FhirContext,
    id: string,
    query: Record<string, string>,
    strict: boolean,
  ): Promise<{ entry?: Array<{ resource: Resource }>; link?: Array<{ relation: string; url: string }> }>;
  access: AccessPolicy;
  audit: AuditService;
  clock: Clock;
}) {
  async function collect(p: Principal, patientId: string, baseUrl: string) {
    await deps.access.assertPatient(p, patientId);
    deps.access.assertSelfOrAdmin(p, patientId);
    const ctx: FhirContext = { principal: p, baseUrl };
    const resources: Resource[] = [];
    // Patient/$everything, page by page (its keyset cursor is in the next link).
    let cursor: string | undefined;
    do {
      const page = await deps.everything(ctx, toFhirId(patientId), { _count: String(PAGE), ...(cursor ? { _cursor: cursor } : {}) }, false);
      resources.push(...(page.entry ?? []).map((e) => e.resource));
      const next = page.link?.find((l) => l.relation === 'next')?.url;
      cursor = next ? (new URL(next).searchParams.get('_cursor') ?? undefined) : undefined;
    } while (cursor && resources.length < MAX_RESOURCES);
    const patient = resources.find((r) => r.resourceType === 'Patient');
    // Every other type a module registered that can be searched by patient (Communication, Appointment, Encounter…).
    for (const provider of deps.registry.all()) {
      if (['Patient', 'Observation', 'Device', 'Practitioner'].includes(provider.type)) continue;
      const param = provider.search.params.find((s) => s.name === 'patient' || s.name === 'subject');
      if (!param || !patient) continue;
      let c: string | undefined;
      try {
        do {
          const req = parseSearch(
            provider.type,
            { [param.name]: `Patient/${patient.id}`, _count: String(PAGE), ...(c ? { _cursor: c } : {}) },
            provider.search,
            false,
          );
          const r = await provider.searchType(ctx, req);
          resources.push(...r.resources);
          c = r.next;
        } while (c && resources.length < MAX_RESOURCES);
      } catch (err) {
        // A type this caller may not search (e.g. staff work items, Task) is not part of their copy.
        if (err instanceof AppError && (err.status === 403 || err.status === 404)) continue;
        throw err;
      }
    }
    return { resources, truncated: resources.length >= MAX_RESOURCES };
  }

  return {
    /** A FHIR `collection` Bundle of everything about the patient. */
    async bundle(p: Principal, patientId: string, baseUrl: string) {
      const { resources, truncated } = await collect(p, patientId, baseUrl);
      await deps.audit.record({
        actor: p,
        action: 'patient.export',
        entityType: 'Patient',
        entityId: patientId,
        patientId,
        details: { format: 'fhir', resources: resources.length, truncated },
      });
      return {
        resourceType: 'Bundle',
        type: 'collection',
        timestamp: new Date(deps.clock.now()).toISOString(),
        total: resources.length,
        entry: resources.map((resource) => ({ fullUrl: `${baseUrl}/${resource.resourceType}/${resource.id}`, resource })),
      };
    },

    /** A readable, printable HTML summary (Print → Save as PDF). */
    async html(p: Principal, patientId: string, baseUrl: string) {
      const { resources, truncated } = await collect(p, patientId, baseUrl);
      await deps.audit.record({
        actor: p,
        action: 'patient.export',
        entityType: 'Patient',
        entityId: patientId,
        patientId,
        details: { format: 'html', resources: resources.length, truncated },
      });
      return renderSummary(resources, new Date(deps.clock.now()), truncated);
    },
  };
}

export type PatientExport = ReturnType<typeof createPatientExport>;

const esc = (v: unknown) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const dateOf = (v: unknown) => (typeof v === 'string' ? v.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '');

function renderSummary(resources: Resource[], now: Date, truncated: boolean): string {
  const of = (type: string) => resources.filter((r) => r.resourceType === type);
  const patient = of('Patient')[0] as
    { name?: Array<{ text?: string; family?: string; given?: string[] }>; birthDate?: string; gender?: string; id?: string } | undefined;
  const name = patient?.name?.[0]?.text ?? [patient?.name?.[0]?.given?.join(' '), patient?.name?.[0]?.family].filter(Boolean).join(' ');
  const text = (cc: unknown) => {
    const c = cc as { text?: string; coding?: Array<{ display?: string; code?: string }> } | undefined;
    return c?.text ?? c?.coding?.[0]?.display ?? c?.coding?.[0]?.code ?? '';
  };
  // Observations grouped by what was measured: how many, when, the range and the latest value.
  const groups = new Map<string, { label: string; unit: string; n: number; first: string; last: string; latest: number | null; min: number; max: number }>();
  for (const o of of('Observation') as Array<{ code?: unknown; effectiveDateTime?: string; valueQuantity?: { value?: number; unit?: string } }>) {
    const label = text(o.code) || 'Observation';
    const v = o.valueQuantity?.value;
    const at = o.effectiveDateTime ?? '';
    const g = groups.get(label) ?? { label, unit: o.valueQuantity?.unit ?? '', n: 0, first: at, last: at, latest: null, min: Infinity, max: -Infinity };
    g.n++;
    if (at && at < g.first) g.first = at;
    if (at && at >= g.last) {
      g.last = at;
      g.latest = typeof v === 'number' ? v : g.latest;
    }
    if (typeof v === 'number') {
      g.min = Math.min(g.min, v);
      g.max = Math.max(g.max, v);
    }
    groups.set(label, g);
  }
  const rows = (xs: string[][]) => xs.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('');
  const section = (title: string, head: string[], body: string[][], empty: string) =>
    `<section><h2>${esc(title)}</h2>${body.length ? `<table><thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows(body)}</tbody></table>` : `<p>${esc(empty)}</p>`}</section>`;
  const messages = of('Communication') as Array<{ sent?: string; sender?: { display?: string }; payload?: Array<{ contentString?: string }>; topic?: unknown }>;
  const appointments = of('Appointment') as Array<{ start?: string; status?: string; description?: string }>;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Health record of ${esc(name)}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;color:#111;max-width:60rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top;overflow-wrap:anywhere}
@media (max-width:40rem){body{margin:1rem auto;font-size:15px}th,td{padding:.25rem .3rem}table{font-size:.9rem}}
.note{color:#333;font-size:.9rem}@media print{body{margin:0;font-size:12px}a{color:#111}}
</style></head><body><main>
<h1>Health record of ${esc(name)}</h1>
<p class="note">Exported from Vigil on ${esc(dateOf(now.toISOString()))}. This summary and the FHIR file hold the same data. To keep a PDF, print this page and choose “Save as PDF”.${truncated ? ' <strong>This export was cut short at 200,000 entries; ask the clinic for a complete bulk export.</strong>' : ''}</p>
<section><h2>About you</h2><dl><dt>Name</dt><dd>${esc(name)}</dd><dt>Birth date</dt><dd>${esc(patient?.birthDate ?? 'not recorded')}</dd><dt>Sex</dt><dd>${esc(patient?.gender ?? 'not recorded')}</dd><dt>Record id</dt><dd>${esc(patient?.id)}</dd></dl></section>
${section(
  'Your care team',
  ['Name'],
  (of('Practitioner') as Array<{ name?: Array<{ text?: string }> }>).map((p) => [esc(p.name?.[0]?.text ?? '')]),
  'No care team recorded.',
)}
${section(
  'Your devices',
  ['Device', 'Status'],
  (of('Device') as Array<{ deviceName?: Array<{ name?: string }>; type?: unknown; status?: string }>).map((d) => [
    esc(d.deviceName?.[0]?.name ?? text(d.type)),
    esc(d.status ?? ''),
  ]),
  'No devices.',
)}
${section(
  'Your measurements',
  ['What', 'How many', 'From', 'To', 'Lowest', 'Highest', 'Latest'],
  [...groups.values()]
    .sort((a, b) => a.label.localeCompare(b.label))
    .map((g) => [
      esc(g.label),
      String(g.n),
      esc(dateOf(g.first)),
      esc(dateOf(g.last)),
      g.min === Infinity ? '' : `${g.min} ${esc(g.unit)}`,
      g.max === -Infinity ? '' : `${g.max} ${esc(g.unit)}`,
      g.latest === null ? '' : `${g.latest} ${esc(g.unit)}`,
    ]),
  'No measurements.',
)}
${section(
  'Your messages',
  ['Sent', 'From', 'Message'],
  messages.map((m) => [esc(dateOf(m.sent)), esc(m.sender?.display ?? ''), esc(m.payload?.map((x) => x.contentString ?? '').join(' ') ?? '')]),
  'No messages.',
)}
${section(
  'Your appointments',
  ['When', 'Status', 'About'],
  appointments.map((a) => [esc(dateOf(a.start)), esc(a.status ?? ''), esc(a.description ?? '')]),
  'No appointments.',
)}
<p class="note">${resources.length} entries in all.</p>
</main></body></html>`;
}
