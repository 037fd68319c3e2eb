import { policy } from '../policy.ts';
import type { Api } from '../http-server.ts';
import type { TasksService } from '../../messaging/tasks.service.ts';
import type { VisitsService } from '../../visits/visits.service.ts';
import { requirePrincipal } from '../principal.ts';
import { CreateTaskBody, IdParams, MessageCallNow, MessageCallNowBody, Task, TasksQuery, UpdateTaskBody } from '../contracts/index.ts';

const SCOPE = 'tasks and visits for the patients they may see (the tasks and visits services check)';

/** Acting on a message (docs/api.md → Tasks): turn it into a task, or start a visit from it. */
export function taskRoutes(app: Api, deps: { tasks: TasksService; visits: VisitsService }) {
  app.post(
    '/api/v1/messages/:id/task',
    {
      config: { policy: policy.staff(SCOPE) },
      schema: { summary: 'Turn a message into a task (assignee on the care team, due date)', params: IdParams, body: CreateTaskBody, response: { 201: Task } },
    },
    async (req, reply) => reply.status(201).send(await deps.tasks.fromMessage(requirePrincipal(req), req.params.id, req.body ?? {})),
  );

  app.get(
    '/api/v1/tasks',
    {
      config: { policy: policy.staff(SCOPE) },
      schema: { summary: 'Tasks of the patients this user may see, open ones first by due date', querystring: TasksQuery, response: { 200: Task.array() } },
    },
    async (req) => deps.tasks.list(requirePrincipal(req), { patientId: req.query.patient, statuses: req.query.status, mine: req.query.mine === 'true' }),
  );

  app.patch(
    '/api/v1/tasks/:id',
    {
      config: { policy: policy.staff(SCOPE) },
      schema: { summary: 'Move a task on (status), reassign it or change its due date', params: IdParams, body: UpdateTaskBody, response: { 200: Task } },
    },
    async (req) => deps.tasks.update(requirePrincipal(req), req.params.id, req.body),
  );

  app.post(
    '/api/v1/messages/:id/call-now',
    {
      config: { policy: policy.staff(SCOPE) },
      schema: {
        summary: "Start a video visit from a message: a visit now, its link in the message's thread",
        params: IdParams,
        body: MessageCallNowBody,
        response: { 201: MessageCallNow },
      },
    },
    async (req, reply) => reply.status(201).send(await deps.visits.callFromMessage(requirePrincipal(req), req.params.id, req.body?.reason)),
  );
}
