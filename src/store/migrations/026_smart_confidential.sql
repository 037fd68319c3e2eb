-- SMART confidential clients (App Launch 2.x "client-confidential-symmetric", RFC 6749 §2.3.1): an app
-- registered as confidential gets a client secret once; only its SHA-256 hash is kept. NULL = public client.
ALTER TABLE smart_clients ADD COLUMN secret_hash text;
