-- Digests: a subscription's schedule and next closing; deliveries collected for a digest, then
-- carried by it (the digest is a delivery of its own, of a `notification.digest` event).
ALTER TABLE subscriptions
  ADD COLUMN digest_time text NOT NULL DEFAULT '08:00',
  ADD COLUMN digest_weekday int NOT NULL DEFAULT 1 CHECK (digest_weekday BETWEEN 1 AND 7),
  ADD COLUMN next_digest_time timestamptz;
CREATE INDEX subscriptions_digest_due ON subscriptions (next_digest_time)
  WHERE next_digest_time IS NOT NULL AND NOT deleted;

ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
  CHECK (state IN ('pending', 'succeeded', 'failed', 'collected', 'digested'));
ALTER TABLE deliveries ADD COLUMN digest_id uuid;
CREATE INDEX deliveries_collected ON deliveries (subscription_id, seq) WHERE state = 'collected';

-- The workers' claim takes the oldest due delivery: an index in that order spares a sort of
-- every pending delivery on each claim (69 ms at 10,000 pending, 0.5 ms with it).
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (next_attempt_time, seq) WHERE state = 'pending';
