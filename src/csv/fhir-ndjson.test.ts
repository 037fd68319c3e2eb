import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseObservationsNdjson } from './fhir-ndjson.ts';

async function parse(lines: string[]) {
  const out = { readings: 0, rejections: [] as string[] };
  for await (const b of parseObservationsNdjson(Readable.from(lines.map((l) => l + '\n')))) {
    out.readings += b.readings.length;
    out.rejections.push(...b.rejections.map((r) => `${r.line}: ${r.reason}`));
  }
  return out;
}

describe('FHIR NDJSON import parsing', () => {
  it('rejects malformed lines and Bundles with a reason per line instead of throwing', async () => {
    const hr = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: 'Patient/pat-a' },
      effectiveDateTime: '2026-11-01T10:00:00Z',
      valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    };
    const r = await parse([
      'not json',
      JSON.stringify({ resourceType: 'Bundle', entry: {} }), // entry not an array: nothing in it
      JSON.stringify({ resourceType: 'Bundle', entry: [null, { resource: 5 }, { resource: hr }] }),
      'null',
      JSON.stringify(hr),
    ]);
    expect(r.readings).toBe(2);
    expect(r.rejections.map((x) => x.split(':')[0])).toEqual(['1', '3', '3', '4']);
  });
});
