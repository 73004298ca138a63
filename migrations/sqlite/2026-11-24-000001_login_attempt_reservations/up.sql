-- See migrations/postgres: pending rows are lockout reservations taken before bcrypt.
ALTER TABLE login_failures ADD COLUMN pending BOOLEAN NOT NULL DEFAULT 0;
