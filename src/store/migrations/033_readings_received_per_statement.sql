-- A reading's received_at is the start of the statement that stored it, no longer of its transaction.
-- Why: a systolic and a diastolic form one FHIR blood-pressure panel when stored together (observation.store.ts),
-- and "together" must mean one insert (one device message or batch, one CSV batch, one posted panel), not one
-- transaction: a FHIR transaction Bundle with a systolic and a diastolic Observation stores two statements in one
-- transaction, and the two Observations it created must stay two (they became a panel, and the answer failed).
-- SET DEFAULT on the partitioned table reaches its partitions; partitions made later take the parent's default.
ALTER TABLE readings ALTER COLUMN received_at SET DEFAULT statement_timestamp();
