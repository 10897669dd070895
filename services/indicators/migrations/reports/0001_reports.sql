-- The reports domain's tables: filled by the reports work.
SELECT 1;
