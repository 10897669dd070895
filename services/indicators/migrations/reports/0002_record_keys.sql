-- Cell-key perturbation of breakdowns (perturbation.hpp): every report gets a random 64-bit record
-- key, drawn once (a correction keeps it) from gen_random_uuid()'s strong randomness and never
-- published. The noise of a published count is read from the sum of its reports' keys.
ALTER TABLE report_reports
  ADD COLUMN record_key bigint NOT NULL
  DEFAULT ('x' || substr(translate(gen_random_uuid()::text, '-', ''), 1, 16))::bit(64)::bigint;
