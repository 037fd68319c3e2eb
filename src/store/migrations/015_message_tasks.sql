-- Tasks made from messages (issue 8: "a clinician turns a message into a task"): who does it, by when, and
-- how far it got; FHIR Task over the same rows. The note is sealed with the patient's key like messages.
CREATE TABLE message_tasks (
  id                        text PRIMARY KEY,
  patient_id                text NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
  message_id                text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  thread_id                 text NOT NULL REFERENCES message_threads(id) ON DELETE CASCADE,
  note                      bytea NOT NULL,
  assignee_practitioner_id  text REFERENCES practitioners(id) ON DELETE SET NULL,
  due_at                    timestamptz,
  status                    text NOT NULL CHECK (status IN ('requested', 'accepted', 'in-progress', 'completed', 'cancelled')),
  created_by                text NOT NULL,
  created_at                timestamptz NOT NULL,
  updated_at                timestamptz NOT NULL
);
CREATE INDEX message_tasks_by_patient ON message_tasks (patient_id, status);
CREATE INDEX message_tasks_by_assignee ON message_tasks (assignee_practitioner_id, status);
