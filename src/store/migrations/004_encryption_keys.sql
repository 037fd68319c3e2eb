-- Encryption at rest (src/platform/encryption): per-patient data keys, stored only wrapped by the master key.
CREATE TABLE patient_keys (
  patient_id    text NOT NULL,
  version       integer NOT NULL,
  master_key_id text NOT NULL,
  wrapped       text NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (patient_id, version)
);

-- Crypto-erasure tombstones: a shredded patient never gets a new data key by accident.
CREATE TABLE patient_key_shreds (
  patient_id  text PRIMARY KEY,
  shredded_at timestamptz NOT NULL DEFAULT now()
);
