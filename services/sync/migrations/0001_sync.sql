-- Sources of venues, their runs, the rows each run could not take, and the fingerprint of every
-- row last sent to the registry (so unchanged rows are not sent again).
CREATE TABLE sources (
  source_id text PRIMARY KEY,
  display_name text NOT NULL DEFAULT '',
  url text NOT NULL,
  refresh_interval_seconds bigint NOT NULL DEFAULT 0,
  max_withdraw_fraction double precision NOT NULL DEFAULT 0.2,
  create_time timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE runs (
  run_id bigserial PRIMARY KEY,
  source_id text NOT NULL REFERENCES sources (source_id),
  state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'succeeded', 'failed')),
  trigger text NOT NULL CHECK (trigger IN ('manual', 'scheduled')),
  start_time timestamptz NOT NULL DEFAULT now(),
  end_time timestamptz,
  -- Refreshed while the run works; a running run whose heartbeat stopped was interrupted.
  heartbeat_time timestamptz NOT NULL DEFAULT now(),
  error text NOT NULL DEFAULT '',
  file_bytes bigint NOT NULL DEFAULT 0,
  rows int NOT NULL DEFAULT 0,
  skipped int NOT NULL DEFAULT 0,
  created int NOT NULL DEFAULT 0,
  updated int NOT NULL DEFAULT 0,
  unchanged int NOT NULL DEFAULT 0,
  rejected int NOT NULL DEFAULT 0,
  withdrawn int NOT NULL DEFAULT 0
);
-- One run at a time per source, across replicas.
CREATE UNIQUE INDEX runs_one_running ON runs (source_id) WHERE state = 'running';
CREATE INDEX runs_by_source ON runs (source_id, run_id DESC);

CREATE TABLE run_errors (
  error_id bigserial PRIMARY KEY,
  run_id bigint NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
  line int NOT NULL,
  row_id text NOT NULL,
  field text NOT NULL,
  value text NOT NULL,
  rule text NOT NULL,
  description text NOT NULL
);
CREATE INDEX run_errors_by_run ON run_errors (run_id, line, error_id);

CREATE TABLE fingerprints (
  source_id text NOT NULL REFERENCES sources (source_id),
  row_id text NOT NULL,
  fingerprint text NOT NULL,
  venue text NOT NULL,
  update_time timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source_id, row_id)
);
