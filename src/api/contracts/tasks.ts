import { z } from 'zod';
import { commaList, IsoTime } from './common.ts';
import { Appointment, BodyTime } from './appointments.ts';

/** Tasks made from messages (docs/api.md → Tasks): a clinician turns a message into work with an assignee, a due date and a status. */

export const TaskStatus = z.enum(['requested', 'accepted', 'in-progress', 'completed', 'cancelled'], {
  error: 'status must be requested, accepted, in-progress, completed or cancelled',
});
export type TaskStatus = z.infer<typeof TaskStatus>;

export const Task = z
  .object({
    id: z.string(),
    patientId: z.string(),
    patientName: z.string(),
    messageId: z.string(),
    threadId: z.string(),
    note: z.string(),
    assignee: z.object({ practitionerId: z.string(), name: z.string() }).nullable(),
    due: IsoTime.nullable(),
    status: TaskStatus,
    createdAt: IsoTime,
    updatedAt: IsoTime,
  })
  .meta({ id: 'Task' });
export type Task = z.infer<typeof Task>;

export const CreateTaskBody = z
  .object({
    /** What to do; by default the start of the message. */
    note: z.string().max(500, 'note may be at most 500 characters').optional(),
    /** A practitioner on the patient's care team; by default the one making the task. */
    assigneePractitionerId: z.string().min(1).max(200).optional(),
    due: BodyTime('due').optional(),
  })
  .optional();

export const UpdateTaskBody = z.object({
  status: TaskStatus.optional(),
  assigneePractitionerId: z.string().min(1).max(200).nullable().optional(),
  due: BodyTime('due').nullable().optional(),
});

export const TasksQuery = z.object({
  patient: z.string().max(200).optional(),
  /** Comma-separated statuses, e.g. `requested,in-progress`. */
  status: commaList(TaskStatus).optional(),
  /** `true`: only tasks assigned to the caller. */
  mine: z.enum(['true', 'false'], { error: 'mine must be true or false' }).optional(),
});

export const MessageCallNowBody = z.object({ reason: z.string().max(200, 'reason may be at most 200 characters').optional() }).optional();
export const MessageCallNow = z.object({ appointment: Appointment, url: z.string() });
