DROP INDEX outbox_granted_idx;
ALTER TABLE outbox DROP COLUMN granted_at;
ALTER TABLE sessions DROP COLUMN authenticated_at;
ALTER TABLE totp_secrets DROP COLUMN security_stamp;
ALTER TABLE mfa_challenges DROP COLUMN security_stamp;
ALTER TABLE email_tokens DROP COLUMN security_stamp;
ALTER TABLE users DROP COLUMN security_stamp;
