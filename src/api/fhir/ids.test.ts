import { describe, expect, it } from 'vitest';
import { fromFhirId, referenceId, toFhirId } from './ids.ts';

describe('FHIR ids for Vigil ids', () => {
  it('maps generated ids to conformant ones and back, and never lets two internal ids share a FHIR id', () => {
    const internal = ['pat_x7k2m9qa', 'dev_abc123', 'oxi-01', 'pat-x7k2m9qa', 'h.41', 'bed 4 / oximeter', 'ÄÖ', 'a.b-c', '12345'];
    const fhir = internal.map(toFhirId);
    for (const id of fhir) expect(id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(new Set(fhir).size).toBe(internal.length);
    expect(fhir.map(fromFhirId)).toEqual(internal);
    expect(toFhirId('pat_x7k2m9qa')).toBe('pat-x7k2m9qa');
    expect(toFhirId('a.b-c')).toBe('a.b-c');
    expect(toFhirId('oxi-01')).toBe('h.6f78692d3031'); // looks like an encoded id, so it is encoded itself
  });
  it('accepts the internal form and references on input', () => {
    expect(fromFhirId('pat_x7k2m9qa')).toBe('pat_x7k2m9qa');
    expect(referenceId('Patient/pat-1a', 'Patient')).toBe('pat_1a');
    expect(referenceId('https://x.example/fhir/R4/Patient/pat-1a', 'Patient')).toBe('pat_1a');
    expect(referenceId('Device/dev-1', 'Patient')).toBeUndefined();
  });
});
