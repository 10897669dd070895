-- A venue's areas from the position in its record, so that the statement writing a venue sets its
-- areas too: before, every insert or update of a venue was followed by a second update of the
-- same rows for `areas`, which wrote each row and all its index entries twice (the GIN index on
-- `areas` rules out a HOT update). Same point as the generated `geog` column.
CREATE FUNCTION venue_areas(record jsonb) RETURNS text[]
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$
    SELECT coalesce(array_agg(a.layer || ':' || a.code ORDER BY a.layer, a.code), '{}')
    FROM areas a
    WHERE record ? 'latitude' AND record ? 'longitude'
      AND ST_Intersects(a.geom,
                        ST_SetSRID(ST_MakePoint((record -> 'longitude' ->> 0)::float8,
                                                (record -> 'latitude' ->> 0)::float8), 4326))
  $$;
