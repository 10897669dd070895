-- Replicas follow the change feed (0003) to keep their search index current. Polled every
-- second, a write reached the other replicas' searches half a second later on average: each
-- statement writing venues now notifies a channel named after the schema, which PostgreSQL
-- delivers when the transaction commits (several in one transaction arrive as one), and the
-- listening replicas read the feed at once (libs/db/listener.hpp). The poll stays, for when the
-- listening connection is down. One call per statement, not per row.
CREATE FUNCTION venues_notify_changed() RETURNS trigger
  LANGUAGE plpgsql
  AS $$ BEGIN PERFORM pg_notify(TG_TABLE_SCHEMA, TG_TABLE_NAME); RETURN NULL; END $$;

CREATE TRIGGER venues_notify_changed AFTER INSERT OR UPDATE OR DELETE ON venues
  FOR EACH STATEMENT EXECUTE FUNCTION venues_notify_changed();
