-- The coverage domain's read model: venues, the published referential and the area layers as
-- they were last read from their services, plus the needs imported per area. Every table is
-- prefixed `coverage_` (the schema is shared with the reports domain).

-- One row per venue ever seen, keyed by its name: only a newer update_time replaces it, so an
-- event replayed after a snapshot (or redelivered) changes nothing. Withdrawn venues stay as
-- tombstones (active = false) for the same reason.
CREATE SEQUENCE coverage_venue_seq;
CREATE TABLE coverage_venues (
  name text PRIMARY KEY,
  nom text NOT NULL,
  active boolean NOT NULL,
  latitude double precision,
  longitude double precision,
  areas text[] NOT NULL DEFAULT '{}',
  offers text[] NOT NULL DEFAULT '{}',
  -- 168 '0'/'1', hour 0 = Monday 00:00 (Europe/Paris); NULL: hours not understood.
  hours text CHECK (hours IS NULL OR hours ~ '^[01]{168}$'),
  update_time timestamptz NOT NULL,
  -- Order of writes: replicas read the rows written since the last they saw.
  seq bigint NOT NULL
);
CREATE INDEX coverage_venues_seq ON coverage_venues (seq);

-- The published referential's items (not retired first), in the referential's order.
CREATE TABLE coverage_items (
  item text PRIMARY KEY,
  code text NOT NULL DEFAULT '',
  label text NOT NULL DEFAULT '',
  position integer NOT NULL DEFAULT 2147483647,
  retired boolean NOT NULL DEFAULT false
);

-- Area layers and their areas as venues last listed them, with PostGIS' point on surface.
CREATE TABLE coverage_layers (
  layer text PRIMARY KEY,
  title text NOT NULL,
  digest text NOT NULL
);
CREATE TABLE coverage_areas (
  layer text NOT NULL REFERENCES coverage_layers (layer) ON DELETE CASCADE,
  code text NOT NULL,
  label text NOT NULL,
  outline geometry(MultiPolygon, 4326) NOT NULL,
  centre geometry(Point, 4326) NOT NULL,
  PRIMARY KEY (layer, code)
);

-- Needs imported per area (ImportNeeds); kept when the area leaves its layer (shown again if
-- it comes back).
CREATE TABLE coverage_needs (
  layer text NOT NULL,
  code text NOT NULL,
  population bigint NOT NULL CHECK (population >= 0),
  score double precision CHECK (score >= 0),
  components jsonb NOT NULL DEFAULT '{}',
  update_time timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (layer, code)
);

-- One row: the referential version in force, the last venue event applied, and a counter
-- bumped whenever items, layers or needs change (replicas reload them when it moves). Writers
-- lock this row first, so rows of coverage_venues commit in `seq` order.
CREATE TABLE coverage_state (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  referential_version text NOT NULL DEFAULT '',
  referential_time timestamptz,
  labels_pending boolean NOT NULL DEFAULT false,
  as_of timestamptz,
  catalogue_generation bigint NOT NULL DEFAULT 1,
  snapshot_time timestamptz
);
INSERT INTO coverage_state DEFAULT VALUES;
