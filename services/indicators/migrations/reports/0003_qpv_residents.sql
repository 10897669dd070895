-- Breakdowns publish the share of women and of men reached who live in a priority neighbourhood
-- (QPV): each revision keeps its `qpv_residents` by sex beside the other measures. Revisions
-- written before this column have NULL there and are read from their body.
ALTER TABLE report_revisions ADD COLUMN qpv int[];
