import type { Principal } from '../domain/types.ts';
import type { AccessPolicy } from '../auth/access.ts';
import type { AuditService } from '../audit/audit.service.ts';
import type { Clock } from '../platform/clock.ts';
import type { PatientCipher } from '../platform/encryption/index.ts';
import type { PatientsRepository } from '../store/patients.repository.ts';
import { AppError, badRequest, notFound } from '../platform/errors.ts';
import { newId } from '../platform/ids.ts';
import type { MessagesRepository } from './messages.repository.ts';
import type { StoredTask, TaskStatus, TasksRepository } from './tasks.repository.ts';

export interface TaskView {
  id: string;
  patientId: string;
  patientName: string;
  messageId: string;
  threadId: string;
  note: string;
  assignee: { practitionerId: string; name: string } | null;
  due: string | null;
  status: TaskStatus;
  createdAt: string;
  updatedAt: string;
}

const iso = (t: number) => new Date(t).toISOString();
/** Status moves a task may make (FHIR Task state machine, simplified): done and cancelled are final. */
const NEXT: Record<TaskStatus, TaskStatus[]> = {
  requested: ['accepted', 'in-progress', 'completed', 'cancelled'],
  accepted: ['in-progress', 'completed', 'cancelled'],
  'in-progress': ['completed', 'cancelled'],
  completed: [],
  cancelled: [],
};

/**
 * Tasks made from messages: staff who may see the patient turn a message into a task for someone on the
 * patient's care team, with a due date; the note is sealed with the patient's key; every change is audited.
 */
export function createTasksService(deps: {
  repo: TasksRepository;
  messages: MessagesRepository;
  patients: PatientsRepository;
  access: AccessPolicy;
  audit: AuditService;
  clock: Clock;
  cipher: PatientCipher;
}) {
  const { repo, access, audit, cipher } = deps;

  async function view(t: StoredTask): Promise<TaskView> {
    return {
      id: t.id,
      patientId: t.patientId,
      patientName: t.patientName,
      messageId: t.messageId,
      threadId: t.threadId,
      note: (await cipher.open(t.patientId, t.note, `task:${t.id}`)).toString('utf8'),
      assignee: t.assigneePractitionerId ? { practitionerId: t.assigneePractitionerId, name: t.assigneeName ?? t.assigneePractitionerId } : null,
      due: t.dueAt === null ? null : iso(t.dueAt),
      status: t.status,
      createdAt: iso(t.createdAt),
      updatedAt: iso(t.updatedAt),
    };
  }

  async function checkAssignee(patientId: string, practitionerId: string) {
    if (!(await deps.patients.careTeamOf(patientId)).some((t) => t.id === practitionerId))
      throw badRequest(`assigneePractitionerId: ${practitionerId} is not on this patient's care team`);
  }

  async function visible(p: Principal, id: string): Promise<StoredTask> {
    access.assertStaff(p);
    const t = await repo.byId(id);
    if (!t || !(await access.canSeePatient(p, t.patientId))) throw notFound(`task ${id}`);
    return t;
  }

  return {
    view,
    byIds: (ids: string[]) => repo.byIds(ids),

    async fromMessage(p: Principal, messageId: string, input: { note?: string; assigneePractitionerId?: string; due?: number } = {}): Promise<TaskView> {
      access.assertStaff(p);
      const m = await deps.messages.message(messageId);
      if (!m || !(await access.canSeePatient(p, m.patientId))) throw notFound(`message ${messageId}`);
      const assignee = input.assigneePractitionerId ?? p.practitionerId ?? null;
      if (assignee) await checkAssignee(m.patientId, assignee);
      const text =
        input.note?.trim() || (await cipher.open(m.patientId, m.body, `message:${m.id}`)).toString('utf8').trim().slice(0, 200) || 'Follow up this message';
      const id = newId('tsk');
      const now = deps.clock.now();
      const note = await cipher.seal(m.patientId, Buffer.from(text, 'utf8'), `task:${id}`); // before the transaction: sealing may create the patient's data key
      await audit.change(async (tx, log) => {
        await repo.insert(
          {
            id,
            patientId: m.patientId,
            messageId,
            threadId: m.threadId,
            note,
            assigneePractitionerId: assignee,
            dueAt: input.due ?? null,
            status: 'requested',
            createdBy: p.userId,
            createdAt: now,
          },
          tx,
        );
        log({
          actor: p,
          action: 'task.create',
          entityType: 'Task',
          entityId: id,
          patientId: m.patientId,
          details: { messageId, assignee, due: input.due ? iso(input.due) : null },
        });
      });
      return view((await repo.byId(id))!);
    },

    async list(p: Principal, q: { patientId?: string; statuses?: TaskStatus[]; mine?: boolean }): Promise<TaskView[]> {
      access.assertStaff(p);
      let ids = await access.visiblePatientIds(p);
      if (q.patientId) {
        await access.assertPatient(p, q.patientId);
        ids = [q.patientId];
      }
      if (q.mine && !p.practitionerId) return [];
      const rows = await repo.list({ patientIds: ids, statuses: q.statuses, assignee: q.mine ? p.practitionerId! : undefined });
      // The notes are opened for the reader: who read which patient's tasks is in the audit trail, one entry per patient.
      const perPatient = new Map<string, number>();
      for (const r of rows) perPatient.set(r.patientId, (perPatient.get(r.patientId) ?? 0) + 1);
      for (const [patientId, count] of perPatient) await audit.record({ actor: p, action: 'task.list', entityType: 'Task', patientId, details: { count } });
      return Promise.all(rows.map(view));
    },

    async update(p: Principal, id: string, patch: { status?: TaskStatus; assigneePractitionerId?: string | null; due?: number | null }): Promise<TaskView> {
      const t = await visible(p, id);
      if (patch.status && patch.status !== t.status && !NEXT[t.status].includes(patch.status))
        throw new AppError('CONFLICT', `a ${t.status} task cannot become ${patch.status}`);
      if (patch.assigneePractitionerId) await checkAssignee(t.patientId, patch.assigneePractitionerId);
      await audit.change(async (tx, log) => {
        await repo.update(id, { status: patch.status, assigneePractitionerId: patch.assigneePractitionerId, dueAt: patch.due }, deps.clock.now(), tx);
        log({
          actor: p,
          action: 'task.update',
          entityType: 'Task',
          entityId: id,
          patientId: t.patientId,
          details: { ...patch, due: patch.due ? iso(patch.due) : patch.due },
        });
      });
      return view((await repo.byId(id))!);
    },
  };
}

export type TasksService = ReturnType<typeof createTasksService>;
