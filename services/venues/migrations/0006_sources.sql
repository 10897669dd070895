-- The producers that write venues in batches (hardening issue, point 16): a batch or an import
-- must name a registered source, so no caller writes into a namespace that does not exist.
-- Sources that already wrote venues are registered as they are, with `passerelle` (venues
-- created one by one).
CREATE TABLE sources (
  source_id text PRIMARY KEY,
  display_name text NOT NULL,
  create_time timestamptz NOT NULL DEFAULT now()
);
INSERT INTO sources (source_id, display_name)
SELECT DISTINCT source, source FROM venues
UNION SELECT 'passerelle', 'Passerelle (lieux saisis un par un)'
ON CONFLICT DO NOTHING;
