-- Issue 11, time-partitioned readings, step 2 of 2 (step 1, 024, prepared the old table outside a transaction).
-- `readings` becomes PARTITION BY RANGE (ts): one partition per calendar month (UTC), named readings_yYYYYmMM,
-- created ahead by the maintenance in store/readings-partitions.ts, and a DEFAULT partition for rows of a
-- month without one (backfills, clocks far off), which the maintenance moves into their month.
-- An existing database keeps its table as the partition `readings_legacy` for every reading before the
-- cut-over: renamed and attached, not copied, so this transaction holds its exclusive lock for moments only.
-- A new database (no readings yet) gets monthly partitions from the previous month.
-- No foreign key references readings; ids still come from one sequence (readings.id is the FHIR
-- Observation id), and the primary key is (id, ts): a lookup by id probes each partition's key index.
DO $$
DECLARE
  cutover timestamptz := (SELECT bound FROM readings_cutover);
  has_rows boolean := EXISTS (SELECT 1 FROM readings);
  next_id bigint;
  id_called boolean;
  month timestamptz;
BEGIN
  -- Month bounds are UTC midnights whatever the server's TimeZone (for this transaction only).
  PERFORM set_config('TimeZone', 'UTC', true);
  EXECUTE format('SELECT last_value, is_called FROM %s', pg_get_serial_sequence('readings', 'id')) INTO next_id, id_called;
  ALTER TABLE readings RENAME TO readings_legacy;
  ALTER TABLE readings_legacy RENAME CONSTRAINT readings_pkey TO readings_legacy_id_key;
  ALTER INDEX readings_patient_code_ts RENAME TO readings_legacy_patient_code_ts;
  ALTER INDEX readings_by_command RENAME TO readings_legacy_by_command;
  ALTER INDEX readings_cgm_daily_once RENAME TO readings_legacy_cgm_daily_once;
  -- The identity sequence belongs to the old column; its position moves to a sequence of the new table.
  ALTER TABLE readings_legacy ALTER COLUMN id DROP IDENTITY;
  CREATE SEQUENCE readings_id_seq AS bigint;
  PERFORM setval('readings_id_seq', next_id, id_called);

  CREATE TABLE readings (
    id          bigint NOT NULL DEFAULT nextval('readings_id_seq'),
    patient_id  text NOT NULL,
    device_id   text,
    system      text NOT NULL DEFAULT 'http://loinc.org',
    code        text NOT NULL,
    value       double precision NOT NULL,
    unit        text NOT NULL,
    ts          timestamptz NOT NULL,
    seq         bigint,
    command_id  text,
    method      jsonb,
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT readings_pkey PRIMARY KEY (id, ts)
  ) PARTITION BY RANGE (ts);
  -- pg_get_serial_sequence('readings', 'id') finds it (the PGlite COPY path reserves id blocks from it).
  ALTER SEQUENCE readings_id_seq OWNED BY readings.id;
  CREATE INDEX readings_patient_code_ts ON readings (patient_id, code, ts DESC);
  CREATE INDEX readings_by_command ON readings (command_id) WHERE command_id IS NOT NULL;
  CREATE UNIQUE INDEX readings_cgm_daily_once ON readings (patient_id, ts) WHERE code = '97510-2' AND method->>'name' = 'cgm-consensus-2019-daily';
  CREATE TABLE readings_default PARTITION OF readings DEFAULT;

  IF has_rows THEN
    -- The key (id, ts) built concurrently in 024 becomes the old table's primary key (no scan: both columns
    -- are NOT NULL), so ATTACH adopts it and the other indexes, which have the parent's definitions, as they are.
    ALTER TABLE readings_legacy DROP CONSTRAINT readings_legacy_id_key;
    ALTER TABLE readings_legacy ADD CONSTRAINT readings_legacy_pkey PRIMARY KEY USING INDEX readings_id_ts;
    EXECUTE format('ALTER TABLE readings ATTACH PARTITION readings_legacy FOR VALUES FROM (MINVALUE) TO (%L)', cutover);
    ALTER TABLE readings_legacy DROP CONSTRAINT readings_before_cutover;
    -- The rest of the cut-over's month.
    month := date_trunc('month', cutover) + interval '1 month';
    EXECUTE format('CREATE TABLE %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)',
      'readings_' || to_char(cutover, '"y"YYYY"m"MM'), cutover, month);
  ELSE
    DROP TABLE readings_legacy;
    month := date_trunc('month', now()) - interval '1 month';
  END IF;
  -- (The previous month,) this month and the next two; the maintenance keeps them so from now on.
  WHILE month < date_trunc('month', now()) + interval '3 months' LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF readings FOR VALUES FROM (%L) TO (%L)',
      'readings_' || to_char(month, '"y"YYYY"m"MM'), month, month + interval '1 month');
    month := month + interval '1 month';
  END LOOP;

  INSERT INTO readings (id, patient_id, device_id, system, code, value, unit, ts, seq, command_id, method, received_at)
    SELECT id, patient_id, device_id, system, code, value, unit, ts, seq, command_id, method, received_at FROM readings_parked;
  DROP TABLE readings_parked;
  DROP TABLE readings_cutover;
END $$;
