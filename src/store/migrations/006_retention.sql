-- Retention (issue 11 defect 7): the sweeper deletes by age, so each table it prunes needs an index on that age.
CREATE INDEX IF NOT EXISTS ingested_messages_received ON ingested_messages (received_at);
CREATE INDEX IF NOT EXISTS notification_jobs_finished ON notification_jobs (created_at) WHERE status IN ('sent', 'failed');
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at);
