-- Rows a run took with a warning (e.g. opening hours the registry does not understand) are
-- listed with the rows it could not take, told apart by this flag.
ALTER TABLE run_errors ADD COLUMN warning boolean NOT NULL DEFAULT false;
