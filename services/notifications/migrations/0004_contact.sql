-- The organisation's contact, told by e-mail when a subscription is disabled after failures;
-- such a notice is a delivery of its own, to `email_to` whatever the subscription's channel, sent
-- while the subscription is disabled.
ALTER TABLE subscriptions ADD COLUMN contact_email text NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN email_to text;
