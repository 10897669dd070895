-- Nomenclatures, their versions, stable items, and each version's tree.
CREATE TABLE nomenclatures (
  id text PRIMARY KEY,
  title text NOT NULL,
  source text NOT NULL,
  create_time timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE versions (
  nomenclature_id text NOT NULL REFERENCES nomenclatures (id),
  version text NOT NULL,
  state text NOT NULL CHECK (state IN ('draft', 'published')),
  base_version text,
  publish_time timestamptz,
  create_time timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (nomenclature_id, version)
);

-- An item's id is stable across versions; its code, label and place live in version_nodes.
CREATE TABLE items (
  id text PRIMARY KEY,
  nomenclature_id text NOT NULL REFERENCES nomenclatures (id),
  create_time timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE version_nodes (
  nomenclature_id text NOT NULL,
  version text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('level', 'category', 'item')),
  code text NOT NULL,
  parent_code text,
  position int NOT NULL,
  item_id text REFERENCES items (id),
  label text NOT NULL,
  plain_label text NOT NULL DEFAULT '',
  description text NOT NULL DEFAULT '',
  aptic_theme text NOT NULL DEFAULT '',
  keywords text[] NOT NULL DEFAULT '{}',
  services text[] NOT NULL DEFAULT '{}',
  thematiques text[] NOT NULL DEFAULT '{}',
  pix_competences text[] NOT NULL DEFAULT '{}',
  retired boolean NOT NULL DEFAULT false,
  PRIMARY KEY (nomenclature_id, version, kind, code),
  FOREIGN KEY (nomenclature_id, version) REFERENCES versions (nomenclature_id, version)
);
CREATE INDEX version_nodes_item ON version_nodes (item_id);
