-- The coverage domain's tables: filled by the coverage work.
SELECT 1;
