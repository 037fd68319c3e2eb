-- Retention (issue 11 defect 7): the sweeper deletes by age, so each table it prunes needs an index on that age.
CREATE INDEX IF NOT EXISTS ingested_messages_received ON ingested_messages (received_at);
CREATE INDEX IF NOT EXISTS notification_jobs_finished ON notification_jobs (created_at) WHERE status IN ('sent', 'failed');
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at);
-- api_tokens is small (a few per user): no index needed for its sweep.

-- One CGM daily summary per patient and day (issue 11 defect 3): two instances summarising the same day
-- used to check-then-insert twice. Earlier duplicates are removed first (the oldest row is kept).
DELETE FROM readings r USING readings k
  WHERE r.code = '97510-2' AND k.code = '97510-2' AND r.patient_id = k.patient_id AND r.ts = k.ts
    AND r.method->>'name' = 'cgm-consensus-2019-daily' AND k.method->>'name' = 'cgm-consensus-2019-daily' AND r.id > k.id;
CREATE UNIQUE INDEX IF NOT EXISTS readings_cgm_daily_once ON readings (patient_id, ts)
  WHERE code = '97510-2' AND method->>'name' = 'cgm-consensus-2019-daily';
