-- Issue 11: where each device's ECG analysis stands, durably, so that a new owner (another instance after
-- a kill -9, or this one after a database restart or its own restart) resumes from there and analyses the
-- chunks stored while nobody owned the device, instead of starting cold at the next chunk.
-- A row is created (analysed_to NULL) when a device's first chunk is stored; the analysing owner advances
-- it in the same transaction as the findings it stores, and only forward: a write that does not advance it
-- (another owner got there first) stores no findings, so every finding is stored once.
CREATE TABLE ecg_analysis_positions (
  device_id   text PRIMARY KEY,
  patient_id  text NOT NULL,
  -- end of the last chunk whose findings are stored (the next expected sample), NULL: nothing analysed yet
  analysed_to timestamptz,
  -- an AF / VF episode open at analysed_to (its start), so a resumed analyzer continues it instead of a new one
  af_start    timestamptz,
  vf_start    timestamptz,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ecg_analysis_positions_recent ON ecg_analysis_positions (updated_at);
