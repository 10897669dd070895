-- AIP-155: a request id is bound to the method and the content of the request that first used
-- it, so a reuse with other content is refused instead of answered with another venue.
ALTER TABLE venue_requests ADD COLUMN method text NOT NULL DEFAULT '';
ALTER TABLE venue_requests ADD COLUMN fingerprint text NOT NULL DEFAULT '';
