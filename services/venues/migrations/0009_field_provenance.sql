-- Per-field provenance (issue 11, "Trust" point 2). A venue keeps what its source last sent
-- (`source_record`, the standard fields as the source gave them) beside the effective record,
-- and which standard fields a caller edited locally (`local_fields`: field -> {"time": epoch
-- seconds, "by": who}). A local edit wins over the source until it is restored or the source
-- changes that very field: then a conflict is recorded and the source's policy applies.
-- Venues created one by one (source `passerelle`) have no source record.
ALTER TABLE venues ADD COLUMN source_record jsonb;
ALTER TABLE venues ADD COLUMN local_fields jsonb NOT NULL DEFAULT '{}';
-- Until now a sourced venue's record was what its source last sent (local edits were overwritten
-- by the source's next change): it is the source's record.
UPDATE venues SET source_record = record WHERE source <> 'passerelle';

-- What a source's change does to a field edited locally: `source_wins` (the new value replaces
-- the local one, whose mark goes) or `local_wins` (the local value stays, still marked).
ALTER TABLE sources ADD COLUMN conflict_policy text NOT NULL DEFAULT 'source_wins'
  CHECK (conflict_policy IN ('source_wins', 'local_wins'));

-- The conflicts: a source changed a field edited locally. Values are JSON arrays of the
-- standard's strings (null: the field was absent).
CREATE TABLE venue_conflicts (
  id bigserial PRIMARY KEY,
  venue_id uuid NOT NULL REFERENCES venues (id),
  source text NOT NULL,
  field text NOT NULL,
  local_value jsonb,
  previous_source_value jsonb,
  new_source_value jsonb,
  policy text NOT NULL,
  create_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX venue_conflicts_venue ON venue_conflicts (venue_id, id);
CREATE INDEX venue_conflicts_source ON venue_conflicts (source, id);
