-- E-mail: each subscription's unsubscribe token (random, in the link of its messages: whoever
-- holds it may only end that subscription), and each event's protobuf bytes (an e-mail says in
-- words what changed, from the event's fields; NULL for events recorded before).
ALTER TABLE subscriptions ADD COLUMN unsubscribe_token text NOT NULL
  DEFAULT (replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''));
CREATE UNIQUE INDEX subscriptions_by_unsubscribe_token ON subscriptions (unsubscribe_token);
ALTER TABLE events ADD COLUMN event bytea;
