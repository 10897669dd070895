-- API keys: only the HMAC of each secret is stored (docs/gateway.md, "Keys").
CREATE TABLE api_keys (
  key_id text PRIMARY KEY,
  secret_hash bytea NOT NULL,
  display_name text NOT NULL,
  organisation text NOT NULL DEFAULT '',
  scopes text[] NOT NULL,
  sources text[] NOT NULL DEFAULT '{}',
  create_time timestamptz NOT NULL,
  expire_time timestamptz,
  revoke_time timestamptz,
  last_use_time timestamptz
);
CREATE INDEX api_keys_by_create_time ON api_keys (create_time DESC, key_id DESC);
