-- SMART client-confidential-asymmetric: "FHIR authorization servers SHALL support registration of client JWKs"
-- by URL (strongly preferred: the app rotates its own keys there) as well as by value (the jwks column, 030).
-- An app has at most one of the two; remote-jwks.ts fetches and caches the set as its Cache-Control allows.
ALTER TABLE smart_clients ADD COLUMN jwks_uri text;
ALTER TABLE smart_clients ADD CONSTRAINT smart_clients_one_key_source CHECK (jwks IS NULL OR jwks_uri IS NULL);
