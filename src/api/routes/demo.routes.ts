import type { Api } from '../http-server.ts';
import { policy } from '../policy.ts';
import { DemoMail } from '../contracts/index.ts';

/** The demo clinic's mailbox (demo/index.ts): the alert emails it caught, for the admin's page. */
export function demoRoutes(app: Api, deps: { mails: () => DemoMail[] }) {
  app.get(
    '/api/v1/demo/mailbox',
    {
      config: { policy: policy.admin() },
      schema: { summary: 'Alert emails the demo clinic sent', response: { 200: DemoMail.array() } },
    },
    async () => deps.mails(),
  );
}
