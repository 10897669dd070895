-- The reports domain: members' aggregate activity reports (every revision kept), the request ids
-- that make a submission safe to retry, and equality assessments. No person appears anywhere.

-- One row per report: its latest revision and life cycle.
CREATE TABLE report_reports (
  id uuid PRIMARY KEY,
  organisation text NOT NULL,
  revision int NOT NULL CHECK (revision >= 1),
  withdrawn boolean NOT NULL DEFAULT false,
  period_start date NOT NULL,
  period_end date NOT NULL,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL
);
CREATE INDEX report_reports_list ON report_reports (period_start DESC, id);
CREATE INDEX report_reports_organisation ON report_reports (organisation, period_start DESC, id);

-- Every revision: the whole report as written (serialized passerelle.indicators.v1.ActivityReport)
-- and the figures the breakdowns read, as columns. `seq` is taken under a transaction-scoped
-- advisory lock, so revisions commit in `seq` order and a reader that has seen `seq` N has seen
-- every revision up to N (the breakdown cache reads what is new since its last `seq`).
CREATE TABLE report_revisions (
  seq bigserial PRIMARY KEY,
  report_id uuid NOT NULL REFERENCES report_reports (id),
  revision int NOT NULL,
  withdrawn boolean NOT NULL,
  organisation text NOT NULL,
  organisation_label text NOT NULL,
  period_start date NOT NULL,
  period_end date NOT NULL,
  items text[] NOT NULL,
  areas text[] NOT NULL,
  -- By sex (femme, homme, autre, non communiqué): reached, survey respondents, satisfied,
  -- completed, dropped out (all reasons), with a positive outcome.
  reached int[] NOT NULL CHECK (cardinality(reached) = 4),
  respondents int[] NOT NULL CHECK (cardinality(respondents) = 4),
  satisfied int[] NOT NULL CHECK (cardinality(satisfied) = 4),
  completed int[] NOT NULL CHECK (cardinality(completed) = 4),
  dropped int[] NOT NULL CHECK (cardinality(dropped) = 4),
  positive int[] NOT NULL CHECK (cardinality(positive) = 4),
  body bytea NOT NULL,
  write_time timestamptz NOT NULL,
  UNIQUE (report_id, revision)
);

-- AIP-155 request ids of SubmitActivityReport and SubmitEqualityAssessment, per caller: the
-- request's fingerprint (method and content) and the name of what it created.
CREATE TABLE report_requests (
  scope text NOT NULL,
  request_id uuid NOT NULL,
  digest text NOT NULL,
  resource text NOT NULL,
  create_time timestamptz NOT NULL,
  PRIMARY KEY (scope, request_id)
);

-- Equality assessments of actions against the grid (equality-grid.json).
CREATE TABLE report_equality_assessments (
  id uuid PRIMARY KEY,
  organisation text NOT NULL,
  action text NOT NULL,
  assess_date date NOT NULL,
  body bytea NOT NULL,
  create_time timestamptz NOT NULL
);
CREATE INDEX report_equality_by_action
  ON report_equality_assessments (organisation, action, assess_date DESC, create_time DESC);
