import type { Task, TaskStatus } from '@contracts';

/** What the status filter offers; "open" is every status a task can still move on from (FHIR Task: requested, accepted, in-progress). */
export const STATUS_FILTERS = {
  open: { label: 'Open', statuses: ['requested', 'accepted', 'in-progress'] },
  completed: { label: 'Done', statuses: ['completed'] },
  cancelled: { label: 'Cancelled', statuses: ['cancelled'] },
  all: { label: 'All', statuses: [] },
} as const satisfies Record<string, { label: string; statuses: readonly TaskStatus[] }>;
export type StatusFilter = keyof typeof STATUS_FILTERS;

export const STATUS_LABEL: Record<TaskStatus, string> = {
  requested: 'To do',
  accepted: 'Accepted',
  'in-progress': 'In progress',
  completed: 'Done',
  cancelled: 'Cancelled',
};

export const isOpen = (t: Pick<Task, 'status'>) => t.status !== 'completed' && t.status !== 'cancelled';

export type Urgency = 'overdue' | 'today' | 'later' | 'none';

/** How pressing an open task is, by its due date in the viewer's own day (a task due at 17:00 today is "today", not overdue, until 17:00). */
export function urgencyOf(t: Pick<Task, 'status' | 'due'>, now: number): Urgency {
  if (!isOpen(t) || t.due === null) return 'none';
  const due = Date.parse(t.due);
  if (due < now) return 'overdue';
  const endOfToday = new Date(now);
  endOfToday.setHours(23, 59, 59, 999);
  return due <= endOfToday.getTime() ? 'today' : 'later';
}

/** Client-side narrowing the server query does not do (the patient picker lists only patients that have tasks). */
export function narrow(tasks: Task[], patientId: string | null): Task[] {
  return patientId ? tasks.filter((t) => t.patientId === patientId) : tasks;
}

/** The header line: how many are open, overdue, due today. */
export function counts(tasks: Task[], now: number) {
  let open = 0,
    overdue = 0,
    today = 0;
  for (const t of tasks) {
    if (!isOpen(t)) continue;
    open++;
    const u = urgencyOf(t, now);
    if (u === 'overdue') overdue++;
    else if (u === 'today') today++;
  }
  return { open, overdue, today };
}

/** The patients that have tasks in this list, by name, for the patient filter. */
export function patientsOf(tasks: Task[]): Array<{ id: string; name: string }> {
  const byId = new Map<string, string>();
  for (const t of tasks) byId.set(t.patientId, t.patientName);
  return [...byId].map(([id, name]) => ({ id, name })).sort((a, b) => a.name.localeCompare(b.name));
}

/** The message a task was made from, in its thread (the messages page scrolls to it and marks it). */
export function messageHref(t: Pick<Task, 'patientId' | 'threadId' | 'messageId'>): string {
  const enc = encodeURIComponent;
  return `#/patients/${enc(t.patientId)}/messages/${enc(t.threadId)}/${enc(t.messageId)}`;
}
