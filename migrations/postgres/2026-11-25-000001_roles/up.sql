-- Roles as data: a role is a named set of permissions; every user holds one role.
-- The two roles of v1 become the built-in ones, so every existing user keeps its role.
CREATE TABLE roles (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    builtin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE role_permissions (
    role TEXT NOT NULL REFERENCES roles (name) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    PRIMARY KEY (role, permission)
);

INSERT INTO roles (name, description, builtin, created_at, updated_at) VALUES
    ('admin', 'Every permission. Cannot be changed or deleted.', TRUE,
     now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc'),
    ('user', 'The role of every new account. Its permissions can be changed; it cannot be deleted.', TRUE,
     now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc');
INSERT INTO role_permissions (role, permission) VALUES ('admin', '*');

-- Any existing role name, not just the two of v1; a role a user holds cannot vanish.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_fkey FOREIGN KEY (role) REFERENCES roles (name);
