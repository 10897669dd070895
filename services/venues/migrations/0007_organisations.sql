-- The network's members (issue 9, "Access"): organisations that run venues, named by a venue's
-- owner_organisation and by the gateway's organisation keys. Ids are client-chosen slugs, as
-- sources' are. Times are the domain's clock's. No foreign key from venues: their
-- owner_organisation is '' when unknown and may hold free text written before organisations
-- existed; the registry checks every new value against this table instead.
CREATE TABLE organisations (
  organisation_id text PRIMARY KEY,
  display_name text NOT NULL,
  siret text NOT NULL DEFAULT '',
  rna text NOT NULL DEFAULT '',
  contact_email text NOT NULL DEFAULT '',
  website text NOT NULL DEFAULT '',
  revision int NOT NULL DEFAULT 1,
  create_time timestamptz NOT NULL,
  update_time timestamptz NOT NULL
);
-- ListVenues' filter on owner_organisation, and the owner checks' reads.
CREATE INDEX venues_owner_organisation ON venues (owner_organisation) WHERE owner_organisation <> '';
