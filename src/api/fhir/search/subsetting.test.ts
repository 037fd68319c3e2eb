import { describe, expect, it } from 'vitest';
import { r4Elements } from '../../../../scripts/gen-fhir-elements.ts';
import { R4_ELEMENTS } from './elements.generated.ts';
import { applySummary } from './subsetting.ts';
import type { Resource } from '../mapping.ts';

describe('_summary and the generated R4 element lists', () => {
  it('match the R4 base StructureDefinitions (regenerate with `npx tsx scripts/gen-fhir-elements.ts`)', () => {
    expect(R4_ELEMENTS).toEqual(r4Elements());
  });

  it('keeps the isSummary elements of every served type, not only the four with a hand-written list', () => {
    const appointment = {
      resourceType: 'Appointment',
      id: 'a1',
      meta: { versionId: '1' },
      status: 'booked',
      start: '2026-12-03T10:00:00Z',
      end: '2026-12-03T10:20:00Z',
      comment: 'bring the cuff',
      participant: [{ status: 'accepted' }],
    } as unknown as Resource;
    const s = applySummary(appointment, 'true') as unknown as Record<string, unknown>;
    expect(Object.keys(s).sort()).toEqual(['end', 'id', 'meta', 'participant', 'resourceType', 'start', 'status']);
    expect((s.meta as { tag: Array<{ code: string }> }).tag.map((t) => t.code)).toEqual(['SUBSETTED']);
    // R4 marks Communication.subject isSummary but not sent or payload (the old hand-written list kept sent).
    const communication = {
      resourceType: 'Communication',
      id: 'c1',
      status: 'completed',
      subject: { reference: 'Patient/p1' },
      sent: '2026-12-03T10:00:00Z',
      payload: [{ contentString: 'hi' }],
    };
    expect(Object.keys(applySummary(communication as unknown as Resource, 'true')).sort()).toEqual(['id', 'meta', 'resourceType', 'status', 'subject']);
  });
});
