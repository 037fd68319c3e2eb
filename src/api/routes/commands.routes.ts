import type { CommandService } from '../../commands/command.service.ts';
import type { Api } from '../http-server.ts';
import { requirePrincipal } from '../principal.ts';
import { policy } from '../policy.ts';
import { Command, CommandCreated, CommandRequestBody, IdParams } from '../contracts/index.ts';

/** Device commands (interfaces.md §4): thin adapters over the command service, which scopes by the device's patient. */
export function commandRoutes(app: Api, deps: { commands: CommandService }) {
  app.post(
    '/api/v1/devices/:id/commands',
    {
      config: { policy: policy.staff("commands to devices of their own patients (the command service checks the device's patient)") },
      schema: {
        summary: 'Send a command to a device (queued while it is offline)',
        params: IdParams,
        body: CommandRequestBody,
        response: { 201: CommandCreated },
      },
    },
    async (req, reply) => reply.status(201).send(await deps.commands.request(requirePrincipal(req), req.params.id, req.body)),
  );

  app.get(
    '/api/v1/devices/:id/commands',
    {
      config: { policy: policy.signedIn('commands of a device whose patient they may see') },
      schema: { summary: "A device's last 50 commands", params: IdParams, response: { 200: Command.array() } },
    },
    async (req) => deps.commands.listForDevice(requirePrincipal(req), req.params.id),
  );

  app.get(
    '/api/v1/commands/:id',
    {
      config: { policy: policy.signedIn('a command of a device whose patient they may see') },
      schema: { summary: 'One command', params: IdParams, response: { 200: Command } },
    },
    async (req) => deps.commands.get(requirePrincipal(req), req.params.id),
  );
}
