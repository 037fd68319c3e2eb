-- The OpenID Connect `nonce` an app sent with its authorization request, kept with the code and returned in
-- the id_token the code is exchanged for (OIDC Core §3.1.2.1, §3.1.3.6: the app checks it to refuse a
-- replayed id_token; found by review: it was ignored).
ALTER TABLE smart_grants ADD COLUMN IF NOT EXISTS nonce text;
