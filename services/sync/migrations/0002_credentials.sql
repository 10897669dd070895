-- A source's credentials (the Authorization header sent to its server), apart from the source:
-- write-only in the API, never returned, logged or copied into a run.
CREATE TABLE source_credentials (
  source_id text PRIMARY KEY REFERENCES sources (source_id),
  authorization_header text NOT NULL,
  update_time timestamptz NOT NULL DEFAULT now()
);
