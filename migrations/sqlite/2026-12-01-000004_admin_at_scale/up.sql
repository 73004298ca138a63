-- The admin API at a million users: indexes that match every list's order and
-- filter, trigram search for emails (FTS5), and user counts kept by triggers so
-- that stats never scan the users table. Keep in step with migrations/postgres.

-- Email substring search (`q`): an FTS5 trigram index over users.email (external
-- content: the emails themselves stay in users), kept in step by triggers.
CREATE VIRTUAL TABLE users_email_fts USING fts5(
    email, content = 'users', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO users_email_fts (users_email_fts) VALUES ('rebuild');
CREATE TRIGGER users_email_fts_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_email_fts (rowid, email) VALUES (new.id, new.email);
END;
CREATE TRIGGER users_email_fts_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_email_fts (users_email_fts, rowid, email)
        VALUES ('delete', old.id, old.email);
END;
CREATE TRIGGER users_email_fts_update AFTER UPDATE OF email ON users BEGIN
    INSERT INTO users_email_fts (users_email_fts, rowid, email)
        VALUES ('delete', old.id, old.email);
    INSERT INTO users_email_fts (rowid, email) VALUES (new.id, new.email);
END;

-- The audit trail is listed newest first (id DESC): each filter's index ends in id.
CREATE INDEX audit_events_action_id_idx ON audit_events (action, id);
DROP INDEX audit_events_actor_idx;
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, id);
DROP INDEX audit_events_target_idx;
CREATE INDEX audit_events_target_idx ON audit_events (target_id, id);
CREATE INDEX audit_events_at_idx ON audit_events (at);

-- One row of counts, changed in the same transaction as the user rows it counts.
CREATE TABLE user_stats (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    total INTEGER NOT NULL,
    admins INTEGER NOT NULL,
    disabled INTEGER NOT NULL,
    mfa_enabled INTEGER NOT NULL
);
INSERT INTO user_stats (id, total, admins, disabled, mfa_enabled)
    SELECT 1,
           count(*),
           coalesce(sum(role = 'admin'), 0),
           coalesce(sum(disabled != 0), 0),
           coalesce(sum(mfa_enabled != 0), 0)
    FROM users;
CREATE TRIGGER users_stats_insert AFTER INSERT ON users BEGIN
    UPDATE user_stats
       SET total = total + 1,
           admins = admins + (new.role = 'admin'),
           disabled = disabled + (new.disabled != 0),
           mfa_enabled = mfa_enabled + (new.mfa_enabled != 0)
     WHERE id = 1;
END;
CREATE TRIGGER users_stats_delete AFTER DELETE ON users BEGIN
    UPDATE user_stats
       SET total = total - 1,
           admins = admins - (old.role = 'admin'),
           disabled = disabled - (old.disabled != 0),
           mfa_enabled = mfa_enabled - (old.mfa_enabled != 0)
     WHERE id = 1;
END;
CREATE TRIGGER users_stats_update AFTER UPDATE OF role, disabled, mfa_enabled ON users
    WHEN old.role IS NOT new.role
      OR old.disabled IS NOT new.disabled
      OR old.mfa_enabled IS NOT new.mfa_enabled
BEGIN
    UPDATE user_stats
       SET admins = admins - (old.role = 'admin') + (new.role = 'admin'),
           disabled = disabled - (old.disabled != 0) + (new.disabled != 0),
           mfa_enabled = mfa_enabled - (old.mfa_enabled != 0) + (new.mfa_enabled != 0)
     WHERE id = 1;
END;
