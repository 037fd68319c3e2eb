import type { Db, Queryable } from '../platform/db.ts';

/** SQL for tasks made from messages (migration 015). The note arrives sealed. */
export type TaskStatus = 'requested' | 'accepted' | 'in-progress' | 'completed' | 'cancelled';

export interface StoredTask {
  id: string;
  patientId: string;
  patientName: string;
  messageId: string;
  threadId: string;
  note: Uint8Array;
  assigneePractitionerId: string | null;
  assigneeName: string | null;
  dueAt: number | null;
  status: TaskStatus;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

type Row = {
  id: string;
  patient_id: string;
  patient_name: string;
  message_id: string;
  thread_id: string;
  note: unknown;
  assignee_practitioner_id: string | null;
  assignee_name: string | null;
  due_at: Date | null;
  status: TaskStatus;
  created_by: string;
  created_at: Date;
  updated_at: Date;
};
const ms = (d: Date | null) => (d === null ? null : new Date(d).getTime());
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const SELECT = `SELECT t.*, p.name AS patient_name, pr.name AS assignee_name FROM message_tasks t JOIN patients p ON p.id = t.patient_id LEFT JOIN practitioners pr ON pr.id = t.assignee_practitioner_id`;
const toTask = (r: Row): StoredTask => ({
  id: r.id,
  patientId: r.patient_id,
  patientName: r.patient_name,
  messageId: r.message_id,
  threadId: r.thread_id,
  note: r.note instanceof Uint8Array ? r.note : Buffer.from(r.note as ArrayBuffer),
  assigneePractitionerId: r.assignee_practitioner_id,
  assigneeName: r.assignee_name,
  dueAt: ms(r.due_at),
  status: r.status,
  createdBy: r.created_by,
  createdAt: ms(r.created_at)!,
  updatedAt: ms(r.updated_at)!,
});

export function createTasksRepository(db: Db) {
  return {
    async insert(t: Omit<StoredTask, 'patientName' | 'assigneeName' | 'updatedAt'>, q: Queryable = db): Promise<void> {
      await q.query(
        `INSERT INTO message_tasks (id, patient_id, message_id, thread_id, note, assignee_practitioner_id, due_at, status, created_by, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)`,
        [t.id, t.patientId, t.messageId, t.threadId, t.note, t.assigneePractitionerId, iso(t.dueAt), t.status, t.createdBy, iso(t.createdAt)],
      );
    },
    async byId(id: string): Promise<StoredTask | null> {
      const [r] = await db.query<Row>(`${SELECT} WHERE t.id = $1`, [id]);
      return r ? toTask(r) : null;
    },
    async byIds(ids: string[]): Promise<StoredTask[]> {
      if (!ids.length) return [];
      const byId = new Map((await db.query<Row>(`${SELECT} WHERE t.id = ANY($1)`, [ids])).map((r) => [r.id, toTask(r)]));
      return ids.map((id) => byId.get(id)).filter((t): t is StoredTask => !!t);
    },
    /** Tasks of these patients (null = all), open ones first by due date. */
    async list(q: { patientIds: string[] | null; statuses?: TaskStatus[]; assignee?: string }): Promise<StoredTask[]> {
      const rows = await db.query<Row>(
        `${SELECT} WHERE ($1::text[] IS NULL OR t.patient_id = ANY($1)) AND ($2::text[] IS NULL OR t.status = ANY($2)) AND ($3::text IS NULL OR t.assignee_practitioner_id = $3)
         ORDER BY (t.status IN ('completed', 'cancelled')), t.due_at NULLS LAST, t.created_at LIMIT 500`,
        [q.patientIds, q.statuses ?? null, q.assignee ?? null],
      );
      return rows.map(toTask);
    },
    async update(
      id: string,
      patch: { status?: TaskStatus; assigneePractitionerId?: string | null; dueAt?: number | null },
      at: number,
      q: Queryable = db,
    ): Promise<void> {
      await q.query(
        `UPDATE message_tasks SET status = COALESCE($2, status),
           assignee_practitioner_id = CASE WHEN $3 THEN $4 ELSE assignee_practitioner_id END,
           due_at = CASE WHEN $5 THEN $6::timestamptz ELSE due_at END, updated_at = $7 WHERE id = $1`,
        [
          id,
          patch.status ?? null,
          patch.assigneePractitionerId !== undefined,
          patch.assigneePractitionerId ?? null,
          patch.dueAt !== undefined,
          iso(patch.dueAt ?? null),
          iso(at),
        ],
      );
    },
  };
}

export type TasksRepository = ReturnType<typeof createTasksRepository>;
