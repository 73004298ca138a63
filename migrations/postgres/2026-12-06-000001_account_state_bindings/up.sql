-- What binds pending credentials to the account's state (the third security review).
--
-- users.security_stamp goes up whenever the account's role, password version, email
-- or disabled flag changes. Reset and verification links, the second step of a login
-- and a pending TOTP enrollment carry the stamp they were made under, and die when it
-- moves: a link made for a plain user cannot set the password of the admin that user
-- became.
ALTER TABLE users ADD COLUMN security_stamp BIGINT NOT NULL DEFAULT 0;
ALTER TABLE email_tokens ADD COLUMN security_stamp BIGINT NOT NULL DEFAULT 0;
ALTER TABLE mfa_challenges ADD COLUMN security_stamp BIGINT NOT NULL DEFAULT 0;
ALTER TABLE totp_secrets ADD COLUMN security_stamp BIGINT NOT NULL DEFAULT 0;

-- When the session's holder last proved who they are (a password, a second factor):
-- the `auth_time` of its access tokens, kept across refreshes. Adding a factor needs
-- a recent one. NULL on sessions made before this column: their created_at.
ALTER TABLE sessions ADD COLUMN authenticated_at TIMESTAMP;

-- When the outbox worker decided to send a reset or verification mail: what the
-- per-address limit counts (decisions, in the order they were taken, on any
-- instance), and what a retry of the same row does not count twice.
ALTER TABLE outbox ADD COLUMN granted_at TIMESTAMP;
CREATE INDEX outbox_granted_idx ON outbox (to_addr, granted_at) WHERE granted_at IS NOT NULL;
