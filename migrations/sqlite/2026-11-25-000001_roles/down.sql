PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE users_old (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('user', 'admin')),
    disabled BOOLEAN NOT NULL DEFAULT 0,
    password_version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP
);
INSERT INTO users_old (id, email, password_hash, role, disabled, password_version,
                       created_at, updated_at, last_login_at)
    SELECT id, email, password_hash,
           CASE WHEN role IN ('user', 'admin') THEN role ELSE 'user' END,
           disabled, password_version, created_at, updated_at, last_login_at
    FROM users;
DROP TABLE users;
ALTER TABLE users_old RENAME TO users;
CREATE INDEX users_role_idx ON users (role, disabled);
DROP TABLE role_permissions;
DROP TABLE roles;
COMMIT;
PRAGMA foreign_keys = ON;
