-- Subscriptions, the events they matched, one delivery per (event, subscription) and every
-- attempt at sending it.
CREATE SEQUENCE subscription_changes;

CREATE TABLE subscriptions (
  subscription_id uuid PRIMARY KEY,
  organisation text NOT NULL,
  display_name text NOT NULL DEFAULT '',
  channel text NOT NULL CHECK (channel IN ('webhook', 'email')),
  url text NOT NULL DEFAULT '',
  email text NOT NULL DEFAULT '',
  secret text NOT NULL DEFAULT '',
  -- After RotateSecret: the old secret, still signing until previous_secret_expire_time.
  previous_secret text NOT NULL DEFAULT '',
  previous_secret_expire_time timestamptz,
  -- The filter as the API's Filter message (proto3 JSON).
  filter jsonb NOT NULL DEFAULT '{}',
  rhythm text NOT NULL DEFAULT 'immediate' CHECK (rhythm IN ('immediate', 'daily', 'weekly')),
  state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
  disabled_reason text NOT NULL DEFAULT '',
  consecutive_failures int NOT NULL DEFAULT 0,
  revision int NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL,
  -- Deleted subscriptions stay as tombstones so replicas' indexes learn of the deletion.
  deleted boolean NOT NULL DEFAULT false,
  -- Taken from subscription_changes on every write: replicas read what changed since.
  change_seq bigint NOT NULL DEFAULT nextval('subscription_changes')
);
CREATE INDEX subscriptions_by_change ON subscriptions (change_seq);
CREATE INDEX subscriptions_by_organisation ON subscriptions (organisation, create_time)
  WHERE NOT deleted;

-- The body every delivery of an event sends (the same bytes for every subscription).
CREATE TABLE events (
  event_id text PRIMARY KEY,
  event_type text NOT NULL,
  subject text NOT NULL,
  occurred_time timestamptz NOT NULL,
  body text NOT NULL
);

CREATE TABLE deliveries (
  delivery_id uuid PRIMARY KEY,
  -- Claim order; deliveries about one subject go out in this order.
  seq bigserial UNIQUE,
  subscription_id uuid NOT NULL REFERENCES subscriptions (subscription_id) ON DELETE CASCADE,
  event_id text NOT NULL REFERENCES events (event_id),
  subject text NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'succeeded', 'failed')),
  attempts int NOT NULL DEFAULT 0,
  create_time timestamptz NOT NULL,
  next_attempt_time timestamptz NOT NULL,
  -- One effect per (event, subscription): a redelivered event or a second replica adds nothing.
  UNIQUE (event_id, subscription_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_time) WHERE state = 'pending';
CREATE INDEX deliveries_by_subscription ON deliveries (subscription_id, seq DESC);
CREATE INDEX deliveries_pending_subject ON deliveries (subscription_id, subject, seq)
  WHERE state = 'pending';

CREATE TABLE attempts (
  delivery_id uuid NOT NULL REFERENCES deliveries (delivery_id) ON DELETE CASCADE,
  attempt int NOT NULL,
  attempt_time timestamptz NOT NULL,
  http_status int NOT NULL,
  latency_ms bigint NOT NULL,
  error text NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'refused')),
  PRIMARY KEY (delivery_id, attempt)
);
