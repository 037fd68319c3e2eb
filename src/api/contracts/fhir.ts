import { z } from 'zod';

/** FHIR R4 answers are resources (docs/fhir.md); their structure is FHIR's, validated by the FHIR tests. */
export const FhirResource = z.looseObject({ resourceType: z.string() }).meta({ id: 'FhirResource' });
export const FhirTypeParams = z.object({ type: z.string().min(1).max(64) });
export const FhirReadParams = FhirTypeParams.extend({ id: z.string().min(1).max(64) });
const SearchValue = z.union([z.string(), z.array(z.string())]).optional();
/**
 * Search parameters are parsed by the FHIR service (api/fhir/search-params.ts), which names a bad one; the
 * common ones are listed for the API description and any other passes through to it.
 */
export const FhirSearchQuery = z.looseObject({
  _count: SearchValue,
  _offset: SearchValue,
  _id: SearchValue,
  patient: SearchValue,
  subject: SearchValue,
  code: SearchValue,
  date: SearchValue,
});
