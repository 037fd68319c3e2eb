-- One round trip per audit append (ONC §170.315(d)(2)/(d)(3); bench:fhir). The chain stays linear: the
-- function takes the chain lock (the same advisory key as audit.service.ts), reads the head under it (a
-- VOLATILE plpgsql function takes a fresh snapshot for each statement, so a head committed while it waited
-- for the lock is seen), and inserts the entries only if they were chained onto that head. Otherwise it
-- inserts nothing and returns the real head: the caller (which holds the HMAC key, never the database)
-- re-chains and calls again. NULL = appended. Runs with the caller's rights (SELECT and INSERT are enough).
CREATE OR REPLACE FUNCTION audit_append(expected_prev text, entries jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  head text;
  e jsonb;
BEGIN
  PERFORM pg_advisory_xact_lock(7441002);
  SELECT hash INTO head FROM audit_log ORDER BY id DESC LIMIT 1;
  head := coalesce(head, repeat('0', 64));
  IF head <> expected_prev THEN
    RETURN head;
  END IF;
  FOR e IN SELECT value FROM jsonb_array_elements(entries) LOOP
    INSERT INTO audit_log (ts, actor, action, entity_type, entity_id, patient_id, outcome, details, prev_hash, hash, key_id)
    VALUES ((e->>'ts')::timestamptz, e->>'actor', e->>'action', e->>'entity_type', e->>'entity_id', e->>'patient_id', e->>'outcome',
            nullif(e->'details', 'null'::jsonb), e->>'prev_hash', e->>'hash', e->>'key_id');
  END LOOP;
  RETURN NULL;
END;
$$;
