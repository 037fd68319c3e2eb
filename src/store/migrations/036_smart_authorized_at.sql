-- When the user approved the app (the authorization code's time), carried by every access and refresh token
-- of that approval, so refresh tokens renewed on each use still end a fixed time after the approval
-- (OAuth 2.0 Security BCP, RFC 9700 §4.14.2: refresh tokens "SHOULD expire"; found by review: no overall limit).
-- Rows from before this column count from their own creation.
ALTER TABLE smart_grants ADD COLUMN IF NOT EXISTS authorized_at timestamptz;
