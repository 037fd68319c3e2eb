-- Email nudges for unread messages (issue 8): when each recipient was last nudged about each thread, so a
-- thread nudges a person at most once per period, across instances (the claim is one conditional upsert).
CREATE TABLE message_nudges (
  thread_id  text NOT NULL REFERENCES message_threads(id) ON DELETE CASCADE,
  user_id    text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  sent_at    timestamptz NOT NULL,
  PRIMARY KEY (thread_id, user_id)
);
