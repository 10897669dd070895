-- Stable category keys (so diffs tell moves from renumbering) and the proposal workflow.
ALTER TABLE version_nodes ADD COLUMN node_key text NOT NULL DEFAULT '';
UPDATE version_nodes SET node_key = 'cat-' || code WHERE kind = 'category';

CREATE TABLE proposals (
  nomenclature_id text NOT NULL REFERENCES nomenclatures (id),
  number int NOT NULL,
  round_table int NOT NULL DEFAULT 0,
  kind text NOT NULL,
  target text NOT NULL DEFAULT '',
  text text NOT NULL,
  keywords text[] NOT NULL DEFAULT '{}',
  code_hint text NOT NULL DEFAULT '',
  base_version text NOT NULL,
  operations jsonb NOT NULL DEFAULT '[]',
  state text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'accepted', 'rejected', 'applied')),
  decision_reason text NOT NULL DEFAULT '',
  applied_in text NOT NULL DEFAULT '',
  revision int NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (nomenclature_id, number)
);
CREATE INDEX proposals_state ON proposals (nomenclature_id, state);

CREATE TABLE proposal_comments (
  nomenclature_id text NOT NULL,
  number int NOT NULL,
  seq bigserial,
  author text NOT NULL,
  text text NOT NULL,
  create_time timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (nomenclature_id, number, seq),
  FOREIGN KEY (nomenclature_id, number) REFERENCES proposals (nomenclature_id, number)
);
