-- Duplicate detection follows the venues' change feed (migration 0003) instead of running inside
-- every write: where it has got to, saved after each pass. A fresh cursor (0) makes the first
-- pass check every venue once.
CREATE TABLE duplicate_detection (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  next_xid xid8 NOT NULL,
  running xid8[] NOT NULL DEFAULT '{}',
  update_time timestamptz NOT NULL DEFAULT now()
);
INSERT INTO duplicate_detection (next_xid) VALUES ('0');
