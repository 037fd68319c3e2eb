/**
 * A third-party SMART app on its own origin (127.0.0.1; Vigil's test server is on localhost), built with the
 * `fhirclient` library as real browser apps are. `/launch.html?client=…&scope=…` starts a standalone launch
 * against `fhirBase`; `/app.html` (the redirect URI) finishes it, reads the patient's heart rates, tries the
 * Device list and reads the patient, then puts the outcome on `document.body.dataset.result` (JSON: patient,
 * name, values, devices, fhirUser, refresh, scope) or `.error`. `more(url)` serves other pages of the site.
 */
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const FHIRCLIENT = createRequire(import.meta.url).resolve('fhirclient/build/fhir-client.js');

export async function startFhirclientApp(
  fhirBase: string,
  more: (url: URL) => string | null = () => null,
): Promise<{ origin: string; close(): Promise<void> }> {
  const js = await readFile(FHIRCLIENT);
  const launchPage = (scope: string) => `<!doctype html><script src="/fhir-client.js"></script><script>
    FHIR.oauth2.authorize({ iss: ${JSON.stringify(fhirBase)}, clientId: new URLSearchParams(location.search).get('client'), scope: ${JSON.stringify(scope)}, redirectUri: '/app.html', pkceMode: 'required' });
  </script>`;
  const appPage = `<!doctype html><title>app</title><body><script src="/fhir-client.js"></script><script>
    FHIR.oauth2.ready().then(async (client) => {
      const obs = await client.request('Observation?code=http://loinc.org|8867-4&_sort=date', { flat: true });
      const devices = await client.request('Device').then(() => 'allowed', (e) => String(e.status || e.message));
      const me = await client.patient.read();
      document.body.dataset.result = JSON.stringify({ patient: client.patient.id, name: me.name[0].text, values: obs.map((o) => o.valueQuantity.value),
        devices, fhirUser: client.getFhirUser(), refresh: !!client.state.tokenResponse.refresh_token, scope: client.state.tokenResponse.scope });
    }).catch((e) => { document.body.dataset.error = String(e && e.message || e); });
  </script>`;
  const site = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const html = (body: string) => res.writeHead(200, { 'content-type': 'text/html' }).end(body);
    if (url.pathname === '/fhir-client.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    if (url.pathname === '/launch.html') return html(launchPage(url.searchParams.get('scope')!));
    if (url.pathname === '/app.html') return html(appPage);
    const other = more(url);
    if (other !== null) return html(other);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  return {
    origin: `http://127.0.0.1:${(site.address() as { port: number }).port}`,
    close: () => new Promise<void>((r) => site.close(() => r())),
  };
}
