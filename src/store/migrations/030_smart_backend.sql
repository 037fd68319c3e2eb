-- SMART Backend Services (client_credentials with a signed JWT assertion, private_key_jwt; RFC 7523): a
-- backend app has the public keys it signs with (a JWK Set) and the admin whose authority it uses; the
-- assertions it has used are kept until they expire, so none is accepted twice (its jti).
ALTER TABLE smart_clients ADD COLUMN jwks jsonb;
ALTER TABLE smart_clients ADD COLUMN acts_as text REFERENCES users(id) ON DELETE CASCADE;
CREATE TABLE smart_assertion_jtis (
  client_id  text NOT NULL REFERENCES smart_clients(id) ON DELETE CASCADE,
  jti        text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (client_id, jti)
);
