/** A FHIR REST call as a client sends it (bearer token, `application/fhir+json` bodies), for the FHIR suites. */
export const FHIR_JSON = 'application/fhir+json';

export type FhirAnswer = { status: number; body: any; headers: Headers };

/** `call(token, 'PUT', '/fhir/R4/Patient/x', resource, { 'if-match': 'W/"1"' })` against the server at `baseUrl()`. */
export function fhirCaller(baseUrl: () => string) {
  return async (token: string, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<FhirAnswer> => {
    const res = await fetch(baseUrl() + url, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': FHIR_JSON } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
  };
}
