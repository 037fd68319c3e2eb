-- CSV import de-duplication (issue 10): one key per imported reading, so re-running a file (or an
-- overlapping one) imports nothing twice. A reading is the same when patient, code and instant agree.
CREATE TABLE csv_import_keys (
  patient_id  text NOT NULL,
  code        text NOT NULL,
  ts          timestamptz NOT NULL,
  PRIMARY KEY (patient_id, code, ts)
);
