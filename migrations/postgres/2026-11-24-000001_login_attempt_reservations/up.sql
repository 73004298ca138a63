-- A login (or current-password check) reserves its slot in the lockout window before
-- bcrypt runs: the row is inserted `pending` and becomes a counted failure, or is
-- deleted on success. Pending rows count toward the lock, so concurrent attempts can
-- never evaluate more than LOGIN_MAX_FAILURES wrong passwords in one window.
ALTER TABLE login_failures ADD COLUMN pending BOOLEAN NOT NULL DEFAULT FALSE;
