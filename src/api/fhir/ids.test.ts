import { describe, expect, it } from 'vitest';
import { fromFhirId, localReference, referenceId, toFhirId } from './ids.ts';
import { parseObservationId } from './mapping.ts';

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
  it('resolves only the canonical form: another spelling of an id names nothing', () => {
    const known = ['pat_3r9fqnne', 'oxi-01', 'bed 4', 'h.41', '12345', 'a.b-c'];
    for (const other of [
      `h.${Buffer.from('pat_3r9fqnne').toString('hex')}`, // hex of an id that has a plain form
      `h.${Buffer.from('12345').toString('hex')}`,
      'h.4A', // upper-case hex
      'bed 4', // not conformant: its FHIR id is h.…
      'oxi-01', // the plain form of an encoded id reads as the generated oxi_01
    ]) {
      const internal = fromFhirId(other);
      expect(internal === 'oxi_01' || !known.includes(internal), other).toBe(true);
      if (internal !== 'oxi_01') expect(internal.length, other).toBeGreaterThan(64);
    }
    expect(fromFhirId('pat-3r9fqnne')).toBe('pat_3r9fqnne');
    expect(fromFhirId('12345')).toBe('12345');
    expect(['09', 'bp-05', 'ecg-01', 'bp-'].map(parseObservationId)).toEqual([null, null, null, null]);
    expect(['9', 'bp-5', 'ecg-10', '0'].map(parseObservationId)).toEqual([
      { branch: 'r', n: '9' },
      { branch: 'b', n: '5' },
      { branch: 'e', n: '10' },
      { branch: 'r', n: '0' },
    ]);
  });
  it("reads a reference search value under this server's base as local, and one to another server as nothing", () => {
    const base = 'https://vigil.example/fhir/R4';
    expect(localReference(`${base}/Patient/pat-1a`, base)).toBe('Patient/pat-1a');
    expect(localReference('Patient/pat-1a', base)).toBe('Patient/pat-1a');
    expect(localReference('pat-1a', base)).toBe('pat-1a');
    for (const foreign of ['http://evil.example/fhir/Patient/pat-1a', 'https://vigil.example/fhir/R4x/Patient/pat-1a', 'urn:uuid:1234'])
      expect(referenceId(localReference(foreign, base), 'Patient')!.length, foreign).toBeGreaterThan(64);
    expect(referenceId(localReference(`${base}/Patient/pat-1a`, undefined), 'Patient')!.length).toBeGreaterThan(64);
  });
});
