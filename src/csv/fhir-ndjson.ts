import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { observationToReadings } from '../api/fhir/resources/observation-input.ts';
import type { CandidateReading, RowRejection } from './readings-csv.ts';

export { observationToReadings };

/** Streams NDJSON lines → batches of candidate readings and rejections (a Bundle file is read whole). */
export async function* parseObservationsNdjson(
  input: Readable,
  batchSize = 5000,
): AsyncGenerator<{ readings: CandidateReading[]; rejections: RowRejection[]; raw: Map<number, string>; lines: number }> {
  let batch = { readings: [] as CandidateReading[], rejections: [] as RowRejection[], raw: new Map<number, string>(), lines: 0 };
  let line = 0;
  for await (const text of createInterface({ input, crlfDelay: Infinity })) {
    line++;
    if (!text.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      batch.rejections.push({ line, reason: 'not valid JSON', raw: text.slice(0, 500) });
      continue;
    }
    // A Bundle's entries each carry one resource; anything malformed reaches observationToReadings as is and is
    // rejected there with its reason (a non-array `entry` used to throw).
    const bundle =
      value !== null && typeof value === 'object' && (value as { resourceType?: unknown }).resourceType === 'Bundle' ? (value as { entry?: unknown }) : null;
    const resources: unknown[] = bundle
      ? (Array.isArray(bundle.entry) ? bundle.entry : []).map((e: unknown) =>
          e !== null && typeof e === 'object' ? (e as { resource?: unknown }).resource : e,
        )
      : [value];
    for (const res of resources) {
      const r = observationToReadings(res, line);
      if (typeof r === 'string') batch.rejections.push({ line, reason: r, raw: text.slice(0, 500) });
      else {
        batch.readings.push(...r);
        batch.raw.set(line, text.slice(0, 500));
      }
    }
    if (batch.readings.length + batch.rejections.length >= batchSize) {
      yield { ...batch, lines: line };
      batch = { readings: [], rejections: [], raw: new Map(), lines: 0 };
    }
  }
  yield { ...batch, lines: line };
}
