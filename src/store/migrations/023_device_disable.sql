-- Issue 9: a device can be disabled (lost, stolen, returned): its secret is refused and its sessions close.
ALTER TABLE devices ADD COLUMN disabled_at timestamptz;
