-- Request ids (AIP-155) are each caller's own: the gateway's key id, '' for internal callers.
-- Before, one id space served every caller, so a caller could use up, or be answered, another
-- caller's request. Ids remembered before this migration stay the internal callers' ('').
ALTER TABLE venue_requests ADD COLUMN caller text NOT NULL DEFAULT '';
ALTER TABLE venue_requests DROP CONSTRAINT venue_requests_pkey;
ALTER TABLE venue_requests ADD PRIMARY KEY (caller, request_id);
