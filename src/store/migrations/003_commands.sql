-- Device commands (interfaces.md §3): one row per request, the durable queue for devices that are offline.
-- Lifecycle: queued → sent → done | failed | expired. `expires_at` is the deadline of the current state.

CREATE TABLE device_commands (
  id            text PRIMARY KEY,
  device_id     text NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  patient_id    text,
  name          text NOT NULL,
  args          jsonb NOT NULL DEFAULT '{}',
  status        text NOT NULL CHECK (status IN ('queued', 'sent', 'done', 'failed', 'expired')),
  requested_by  text NOT NULL,
  message       text,
  -- how many times it was published (a queued command is re-published when its device reconnects)
  attempts      integer NOT NULL DEFAULT 0,
  -- how long to wait for the device's answer once sent (ms)
  ack_timeout_ms integer NOT NULL,
  created_at    timestamptz NOT NULL,
  sent_at       timestamptz,
  completed_at  timestamptz,
  expires_at    timestamptz NOT NULL
);
CREATE INDEX device_commands_by_device ON device_commands (device_id, created_at DESC);
-- The sweeper and the reconnect path read only open commands.
CREATE INDEX device_commands_open ON device_commands (expires_at) WHERE status IN ('queued', 'sent');

-- Readings measured on request are looked up by their command.
CREATE INDEX readings_by_command ON readings (command_id) WHERE command_id IS NOT NULL;
