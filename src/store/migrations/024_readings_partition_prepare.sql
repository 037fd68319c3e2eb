-- migrate: no-transaction
-- Issue 11, time-partitioned readings, step 1 of 2: prepares the existing `readings` table to become the first
-- partition of a partitioned `readings` (025) without copying it and without a scan under an exclusive lock.
-- Runs outside a transaction (migrate.ts), statement by statement; each statement is idempotent, so a start
-- that fails half-way simply runs this file again. Readers and writers (other instances) carry on meanwhile.

-- The cut-over instant: the old table keeps every reading before it, monthly partitions take the rest.
-- A day ahead, so no reading is refused meanwhile (ingest refuses readings more than 5 min in the future).
CREATE TABLE IF NOT EXISTS readings_cutover (bound timestamptz NOT NULL);
INSERT INTO readings_cutover (bound) SELECT date_trunc('hour', now()) + interval '1 day' WHERE NOT EXISTS (SELECT 1 FROM readings_cutover);

-- A NOT VALID check binds new rows at once and takes only a moment (no scan).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'readings_before_cutover') THEN
    EXECUTE format('ALTER TABLE readings ADD CONSTRAINT readings_before_cutover CHECK (ts < %L) NOT VALID', (SELECT bound FROM readings_cutover));
  END IF;
END $$;

-- Rows already past the cut-over (a clock far ahead, an import of future-dated data) are parked, ids and
-- all, and go back into the partitioned table in 025.
CREATE TABLE IF NOT EXISTS readings_parked (LIKE readings);
WITH moved AS (DELETE FROM readings WHERE ts >= (SELECT bound FROM readings_cutover) RETURNING *)
  INSERT INTO readings_parked SELECT * FROM moved;

-- VALIDATE scans under SHARE UPDATE EXCLUSIVE: reads and inserts go on. Once valid, ATTACH PARTITION trusts
-- the check and does not scan (PostgreSQL docs, ALTER TABLE … ATTACH PARTITION).
ALTER TABLE readings VALIDATE CONSTRAINT readings_before_cutover;

-- Every unique index of a partitioned table contains the partition key: the key becomes (id, ts). Built
-- CONCURRENTLY (writes go on); an index left invalid by an interrupted build is dropped and built again.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'readings_id_ts' AND NOT i.indisvalid) THEN
    DROP INDEX readings_id_ts;
  END IF;
END $$;
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS readings_id_ts ON readings (id, ts);
