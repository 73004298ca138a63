-- The admin API at a million users: indexes that match every list's order and
-- filter, trigram search for emails, and user counts kept by triggers so that
-- stats never scan the users table.

-- Email substring search (`q`): a trigram index serves LIKE '%...%'.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_email_trgm_idx ON users USING gin (email gin_trgm_ops);

-- The audit trail is listed newest first (id DESC): each filter's index ends in id,
-- so a page is a short backward index scan whatever the filter.
CREATE INDEX audit_events_action_id_idx ON audit_events (action, id);
DROP INDEX audit_events_actor_idx;
CREATE INDEX audit_events_actor_idx ON audit_events (actor_id, id);
DROP INDEX audit_events_target_idx;
CREATE INDEX audit_events_target_idx ON audit_events (target_id, id);
CREATE INDEX audit_events_at_idx ON audit_events (at);

-- One row of counts, changed in the same transaction as the user rows it counts.
CREATE TABLE user_stats (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    total BIGINT NOT NULL,
    admins BIGINT NOT NULL,
    disabled BIGINT NOT NULL,
    mfa_enabled BIGINT NOT NULL
);
INSERT INTO user_stats (id, total, admins, disabled, mfa_enabled)
    SELECT 1,
           count(*),
           count(*) FILTER (WHERE role = 'admin'),
           count(*) FILTER (WHERE disabled),
           count(*) FILTER (WHERE mfa_enabled)
    FROM users;

CREATE FUNCTION user_stats_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d_total BIGINT := 0;
    d_admins BIGINT := 0;
    d_disabled BIGINT := 0;
    d_mfa BIGINT := 0;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        d_total := d_total - 1;
        d_admins := d_admins - (OLD.role = 'admin')::int;
        d_disabled := d_disabled - OLD.disabled::int;
        d_mfa := d_mfa - OLD.mfa_enabled::int;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        d_total := d_total + 1;
        d_admins := d_admins + (NEW.role = 'admin')::int;
        d_disabled := d_disabled + NEW.disabled::int;
        d_mfa := d_mfa + NEW.mfa_enabled::int;
    END IF;
    UPDATE user_stats
       SET total = total + d_total,
           admins = admins + d_admins,
           disabled = disabled + d_disabled,
           mfa_enabled = mfa_enabled + d_mfa
     WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_stats_insert AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION user_stats_track();
CREATE TRIGGER users_stats_delete AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION user_stats_track();
-- Logins touch last_login_at on every login: only the counted columns fire this.
CREATE TRIGGER users_stats_update AFTER UPDATE OF role, disabled, mfa_enabled ON users
    FOR EACH ROW
    WHEN (OLD.role IS DISTINCT FROM NEW.role
          OR OLD.disabled IS DISTINCT FROM NEW.disabled
          OR OLD.mfa_enabled IS DISTINCT FROM NEW.mfa_enabled)
    EXECUTE FUNCTION user_stats_track();
