-- The change feed replicas follow to keep their search index current. Timestamps cannot serve:
-- a transaction that started earlier may commit later than one already read. Each row records
-- the transaction that last wrote it instead; a reader remembers the oldest transaction still
-- running when it read (its snapshot's xmin) and next reads the rows written by that one or
-- later, so nothing committed late is missed and an idle registry reads nothing.
ALTER TABLE venues ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id();

CREATE FUNCTION venues_set_change_xid() RETURNS trigger
  LANGUAGE plpgsql
  AS $$ BEGIN NEW.change_xid := pg_current_xact_id(); RETURN NEW; END $$;

CREATE TRIGGER venues_change_xid BEFORE INSERT OR UPDATE ON venues
  FOR EACH ROW EXECUTE FUNCTION venues_set_change_xid();

CREATE INDEX venues_change_xid ON venues (change_xid);
