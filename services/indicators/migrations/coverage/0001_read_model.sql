-- The coverage domain's tables: filled by the coverage work.
-- (A placeholder that returns no row: the migrator runs each file with exec0.)
SELECT 1 WHERE false;
