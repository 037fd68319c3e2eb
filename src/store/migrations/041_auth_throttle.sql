-- Failed sign-in counts and "an attempt is being checked" claims (auth/login-throttle.ts, throttle-store.ts), shared
-- by every instance: kept in each process before, so N instances allowed N times the guesses (found by review).
-- `key` is an HMAC of the throttle's scope, account and client address under a key outside the database: the table
-- names no email or address. Rows older than a day count for nothing and are pruned (store/retention.ts). A claim
-- has a random token: only its holder releases it (an attempt slower than the lease cannot end a newer one's).
CREATE TABLE IF NOT EXISTS auth_throttle (
  key text PRIMARY KEY,
  failures integer NOT NULL DEFAULT 0,
  last_at timestamptz NOT NULL,
  busy_until timestamptz,
  claim_token text
);
CREATE INDEX IF NOT EXISTS auth_throttle_last_at ON auth_throttle (last_at);
