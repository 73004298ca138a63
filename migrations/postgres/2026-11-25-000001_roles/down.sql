-- Users of custom roles become plain users again.
ALTER TABLE users DROP CONSTRAINT users_role_fkey;
UPDATE users SET role = 'user' WHERE role NOT IN ('user', 'admin');
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('user', 'admin'));
DROP TABLE role_permissions;
DROP TABLE roles;
