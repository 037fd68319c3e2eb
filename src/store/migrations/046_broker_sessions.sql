-- The persistent sessions Vigil's consumers keep in an external broker's $share group (MQTT_URL), and when
-- their instance last said it is alive. A session not seen for VIGIL_BROKER_ORPHAN_AFTER_S belongs to an
-- instance that is gone; a live instance drains what the broker queued for it and ends it
-- (ingest/broker/orphan-sessions.ts).
CREATE TABLE IF NOT EXISTS broker_sessions (
  client_id text PRIMARY KEY,
  seen_at timestamptz NOT NULL DEFAULT now()
);
