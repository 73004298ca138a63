-- See migrations/postgres: roles as data, the two roles of v1 built in.
PRAGMA foreign_keys = OFF;
BEGIN;

CREATE TABLE roles (
    name TEXT PRIMARY KEY NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    builtin BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE role_permissions (
    role TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
);

INSERT INTO roles (name, description, builtin, created_at, updated_at) VALUES
    ('admin', 'Every permission. Cannot be changed or deleted.', 1,
     strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now')),
    ('user', 'The role of every new account. Its permissions can be changed; it cannot be deleted.', 1,
     strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now'));
INSERT INTO role_permissions (role, permission) VALUES ('admin', '*');

CREATE TABLE users_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL REFERENCES roles (name),
    disabled BOOLEAN NOT NULL DEFAULT 0,
    password_version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP
);
INSERT INTO users_new (id, email, password_hash, role, disabled, password_version,
                       created_at, updated_at, last_login_at)
    SELECT id, email, password_hash, role, disabled, password_version,
           created_at, updated_at, last_login_at
    FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX users_role_idx ON users (role, disabled);

COMMIT;
PRAGMA foreign_keys = ON;
