-- A session's fresh confirmation with one of the account's passkeys ("step-up", NIST SP 800-63B §4.2 re-
-- authentication): it stands in for a current code once, within minutes, before second factors change, so that
-- an account with passkeys only need not spend a recovery code to add or remove one (found by review).
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS step_up_at timestamptz;
