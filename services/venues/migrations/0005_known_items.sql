-- The referential items venues may reference, as the published versions announced them
-- (referential.version.published): a venue naming an item that does not exist, or was retired, is
-- refused instead of stored.
CREATE TABLE referential_items (
  item text PRIMARY KEY,
  retired boolean NOT NULL DEFAULT false,
  version text NOT NULL
);
