-- The reports domain's tables: filled by the reports work.
-- (A statement that returns no row: the migrator runs each file with exec0.)
DO $$ BEGIN END $$;
