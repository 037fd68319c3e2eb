import type { FastifyInstance } from 'fastify';
import type { CommandService } from '../../commands/command.service.ts';
import { requirePrincipal } from '../principal.ts';

/** Device commands (interfaces.md §4): thin adapters over the command service, which checks access. */
export function commandRoutes(app: FastifyInstance, deps: { commands: CommandService }) {
  app.post('/api/v1/devices/:id/commands', async (req, reply) => {
    const created = await deps.commands.request(requirePrincipal(req), (req.params as { id: string }).id, req.body);
    return reply.status(201).send(created);
  });

  app.get('/api/v1/devices/:id/commands', async (req) => deps.commands.listForDevice(requirePrincipal(req), (req.params as { id: string }).id));

  app.get('/api/v1/commands/:id', async (req) => deps.commands.get(requirePrincipal(req), (req.params as { id: string }).id));
}
