-- Area layers (QPV perimeters, quartiers, IRIS...): each venue's `areas` lists the codes of the
-- areas its point falls in, as `<layer>:<code>`.
CREATE TABLE area_layers (
  layer text PRIMARY KEY,
  title text NOT NULL,
  update_time timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE areas (
  layer text NOT NULL REFERENCES area_layers (layer) ON DELETE CASCADE,
  code text NOT NULL,
  label text NOT NULL,
  geom geometry(MultiPolygon, 4326) NOT NULL,
  PRIMARY KEY (layer, code)
);
CREATE INDEX areas_geom ON areas USING gist (geom);
CREATE INDEX venues_areas ON venues USING gin (areas);
