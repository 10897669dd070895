-- A source's profile (format, encoding, delimiter, mapping to the standard's fields): the API's
-- SourceProfile as JSON; '{}' is the national standard's CSV, encoding detected. A run counts the
-- rows its profile's filter skipped.
ALTER TABLE sources ADD COLUMN profile jsonb NOT NULL DEFAULT '{}';
ALTER TABLE runs ADD COLUMN filtered int NOT NULL DEFAULT 0;
