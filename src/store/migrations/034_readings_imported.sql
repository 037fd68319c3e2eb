-- Imported history (CSV, FHIR NDJSON through `vigil import`) is marked: it never raises alerts, and the alert
-- engine's replay after a restart (alerts/alert-monitor.ts) must not treat it as live readings it missed.
-- A constant default: PostgreSQL 11+ adds the column without rewriting the table or its partitions.
ALTER TABLE readings ADD COLUMN imported boolean NOT NULL DEFAULT false;
