import { CliError, requireFlag, type CliCommand } from '../command.ts';
import { cliConfig, findRunningServer, print } from '../runtime.ts';

const command: CliCommand = {
  name: 'smart app add',
  summary: 'register a SMART on FHIR app (public, or confidential with a secret; PKCE); prints its client_id',
  help: `Usage: vigil smart app add --name "App name" --redirect-uri URL[,URL…] [--launch-url URL] [--confidential | --jwks-url URL] [--json]

The app then launches with iss = {VIGIL_PUBLIC_URL}/fhir/R4 and this client_id (authorization code + PKCE
S256; scopes such as launch/patient patient/Observation.rs openid fhirUser offline_access). Redirect URIs
must be https (http only for localhost). --launch-url: where Vigil opens the app for an EHR launch (with iss
and launch; the app then asks for the scope "launch"). --confidential: a server-side app that can keep a
secret; its client secret is printed once (only its hash is stored) and it authenticates with it at the token
and revocation endpoints (client_secret_basic or client_secret_post). --jwks-url: a server-side app that signs
its requests with its own key (private_key_jwt) and publishes its public keys at this https URL, where it
rotates them; Vigil fetches them as their Cache-Control allows. A backend service (no redirect URI) is
registered by an admin signed in, in the web app or with POST /api/v1/smart/apps. See docs/fhir.md → SMART.`,
  switches: ['confidential'],
  async run(args, io) {
    const name = requireFlag(args, 'name');
    const redirectUris = requireFlag(args, 'redirect-uri')
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean);
    const launchUrl = typeof args.flags['launch-url'] === 'string' ? (args.flags['launch-url'] as string) : undefined;
    const confidential = args.flags.confidential === true;
    const jwksUrl = typeof args.flags['jwks-url'] === 'string' ? (args.flags['jwks-url'] as string) : undefined;
    const config = cliConfig();
    const server = await findRunningServer(config.dataDir);
    let app: { id: string; name: string; redirectUris: string[]; clientSecret?: string };
    if (server) {
      const res = await fetch(`${server.url}/api/v1/smart/apps`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name,
          redirectUris,
          ...(launchUrl ? { launchUrl } : {}),
          ...(confidential ? { confidential } : {}),
          ...(jwksUrl ? { jwksUrl } : {}),
        }),
      });
      const body = (await res.json()) as typeof app & { error?: { message: string } };
      if (!res.ok) throw new CliError(body.error?.message ?? `server answered ${res.status}`);
      app = body;
    } else {
      const { openOfflineServices } = await import('../offline-services.ts');
      const offline = await openOfflineServices(config);
      try {
        const smart = offline.services.smart;
        app = await smart.registerClient({ name, redirectUris, launchUrl, confidential, jwksUrl }, 'cli').catch((err) => {
          throw new CliError((err as Error).message);
        });
      } finally {
        await offline.close();
      }
    }
    print(
      io,
      args.json,
      { clientId: app.id, name: app.name, redirectUris: app.redirectUris, ...(app.clientSecret ? { clientSecret: app.clientSecret } : {}) },
      `SMART app "${app.name}" registered: client_id ${app.id}\n  redirect URIs: ${app.redirectUris.join(', ')}` +
        (app.clientSecret ? `\n  client secret: ${app.clientSecret}\n  (shown once: store it in the app's server configuration now)` : ''),
    );
    return 0;
  },
};
export default command;
