-- Open proposals a publication makes obsolete are closed (with the reason), not left stranded.
ALTER TABLE proposals DROP CONSTRAINT proposals_state_check;
ALTER TABLE proposals ADD CONSTRAINT proposals_state_check
  CHECK (state IN ('open', 'accepted', 'rejected', 'applied', 'closed'));
