-- Duplicates across sources (issue 11): pairs of venues of two sources that look like the same
-- place, proposed by the detector after each write and resolved by an administrator. Linked,
-- never merged: a venue resolved as the same place as another keeps its row and names the
-- canonical one in `duplicate_of`, which hides it from search, listings and exports. A pair
-- resolved as different places keeps its row, so it is never proposed again.
ALTER TABLE venues ADD COLUMN duplicate_of uuid REFERENCES venues (id);

CREATE TABLE duplicate_links (
  link_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  venue_a uuid NOT NULL REFERENCES venues (id),
  venue_b uuid NOT NULL REFERENCES venues (id),
  score double precision NOT NULL,
  matched_fields text[] NOT NULL DEFAULT '{}',
  distance_m double precision NOT NULL,
  state text NOT NULL DEFAULT 'proposed' CHECK (state IN ('proposed', 'same', 'different')),
  canonical uuid REFERENCES venues (id),
  create_time timestamptz NOT NULL DEFAULT now(),
  update_time timestamptz NOT NULL DEFAULT now(),
  CHECK (venue_a < venue_b),
  CHECK ((state = 'same') = (canonical IS NOT NULL)),
  UNIQUE (venue_a, venue_b)
);
CREATE INDEX duplicate_links_venue_b ON duplicate_links (venue_b);
CREATE INDEX duplicate_links_state ON duplicate_links (state, link_id);
