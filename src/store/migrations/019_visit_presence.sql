-- Who is in a visit and who waits, as its home instance last saw it, so any instance can answer
-- GET /api/v1/visits/{id} (sealed with the patient's key: it holds participants' names).
ALTER TABLE visit_room_homes ADD COLUMN presence bytea;
