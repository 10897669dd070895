-- The venue registry: the standard record as JSON (normalised, every field a list of strings),
-- columns derived from it for filtering and geography, and local fields.
CREATE FUNCTION jsonb_text_array(j jsonb) RETURNS text[]
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT coalesce(array_agg(x), '{}') FROM jsonb_array_elements_text(coalesce(j, '[]'::jsonb)) AS x $$;

CREATE TABLE venues (
  id uuid PRIMARY KEY,
  source text NOT NULL,
  source_id text NOT NULL,
  record jsonb NOT NULL,
  owner_organisation text NOT NULL DEFAULT '',
  referential_items text[] NOT NULL DEFAULT '{}',
  accepts_aptic_pass boolean NOT NULL DEFAULT false,
  areas text[] NOT NULL DEFAULT '{}',
  state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'withdrawn')),
  withdrawal_reason text NOT NULL DEFAULT '',
  revision int NOT NULL DEFAULT 1,
  first_seen_time timestamptz NOT NULL DEFAULT now(),
  last_seen_time timestamptz NOT NULL DEFAULT now(),
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now(),
  nom text GENERATED ALWAYS AS (record -> 'nom' ->> 0) STORED,
  commune text GENERATED ALWAYS AS (record -> 'commune' ->> 0) STORED,
  code_postal text GENERATED ALWAYS AS (record -> 'code_postal' ->> 0) STORED,
  code_insee text GENERATED ALWAYS AS (record -> 'code_insee' ->> 0) STORED,
  services text[] GENERATED ALWAYS AS (jsonb_text_array(record -> 'services')) STORED,
  typologie text[] GENERATED ALWAYS AS (jsonb_text_array(record -> 'typologie')) STORED,
  dispositif_programmes_nationaux text[]
    GENERATED ALWAYS AS (jsonb_text_array(record -> 'dispositif_programmes_nationaux')) STORED,
  frais_a_charge text[] GENERATED ALWAYS AS (jsonb_text_array(record -> 'frais_a_charge')) STORED,
  geog geography(Point, 4326) GENERATED ALWAYS AS (
    CASE WHEN record ? 'latitude' AND record ? 'longitude' THEN
      ST_SetSRID(ST_MakePoint((record -> 'longitude' ->> 0)::float8,
                              (record -> 'latitude' ->> 0)::float8), 4326)::geography
    END) STORED,
  UNIQUE (source, source_id)
);
CREATE INDEX venues_geog ON venues USING gist (geog);
CREATE INDEX venues_services ON venues USING gin (services);
CREATE INDEX venues_typologie ON venues USING gin (typologie);
CREATE INDEX venues_dispositifs ON venues USING gin (dispositif_programmes_nationaux);
CREATE INDEX venues_frais ON venues USING gin (frais_a_charge);
CREATE INDEX venues_items ON venues USING gin (referential_items);
CREATE INDEX venues_nom ON venues (nom, id);
CREATE INDEX venues_update_time ON venues (update_time, id);
CREATE INDEX venues_create_time ON venues (create_time, id);
CREATE INDEX venues_commune ON venues (commune);

-- Idempotency keys of write requests (request_id), kept a week.
CREATE TABLE venue_requests (
  request_id text PRIMARY KEY,
  venue_id uuid NOT NULL REFERENCES venues (id),
  create_time timestamptz NOT NULL DEFAULT now()
);
