-- One rejoin secret per admission, not per account (found by review of migration 042): a patient in the visit on a
-- tablet and a phone with one account had one row, so the second admission's secret replaced the first's; after a
-- restart the first device waited to be let in again, and either device's goodbye deleted the other's secret.
ALTER TABLE visit_rejoin DROP CONSTRAINT IF EXISTS visit_rejoin_pkey;
ALTER TABLE visit_rejoin ADD PRIMARY KEY (appointment_id, participant_key, secret_hash);
