-- Lighter writes of venues (issue 11: the first load of a source).
--
-- `source_record` is NULL when it equals `record`, for a venue of a source (source <> 'passerelle'):
-- the common case, a venue no one edited here. Two copies of a 1 KB record made every row larger
-- than the 2 KB TOAST threshold, so each insert compressed both (a 25,000-row load: 1.3 s
-- instead of 0.3 s in PostgreSQL). Readers expand it (services/venues/store.cpp).
UPDATE venues SET source_record = NULL WHERE source <> 'passerelle' AND source_record = record;

-- An insert takes change_xid from the column's default (the inserting transaction); only updates
-- need the trigger. The trigger's PL/pgSQL call per inserted row cost 0.6 s of a 25,000-row load.
DROP TRIGGER venues_change_xid ON venues;
CREATE TRIGGER venues_change_xid BEFORE UPDATE ON venues
  FOR EACH ROW EXECUTE FUNCTION venues_set_change_xid();
