#!/usr/bin/env bash
# Latency of the admin API (user list and search, audit trail, stats) of a release
# build of turnstile on a large seeded database, on loopback only.
#
#   bash scripts/bench-admin.sh sqlite                       # build, seed, measure
#   bash scripts/bench-admin.sh postgres
#   BENCH_SKIP_BUILD=1 BENCH_USERS=20000 BENCH_AUDIT=100000 BENCH_SESSIONS=10000 \
#       bash scripts/bench-admin.sh sqlite                   # a quick small run
#
# One run, on a fresh database: SQLite, a file in a temporary folder; PostgreSQL, a
# database with a unique name created on $BENCH_PG_URL (default
# postgres://postgres@127.0.0.1:5432, trust auth, needs psql). Both are removed at exit.
#   1. schema: `turnstile migrate`; the admin account (bench-admin@example.com, random
#      password) with `turnstile create-admin`; the bcrypt hash every seeded account
#      shares (password "correct horse battery", at the bcrypt cost of the run) is made
#      the same way, with a throwaway account that is then deleted;
#   2. seeding straight into the database with bulk SQL (PostgreSQL: INSERT ... SELECT
#      FROM generate_series with psql; SQLite: a recursive CTE, with the sqlite3 CLI or
#      else python3's sqlite3 module; the tables' secondary indexes are dropped for
#      the load and rebuilt after it), then ANALYZE (PostgreSQL: VACUUM ANALYZE, so
#      autovacuum does not start during the measurement). Times per table are printed.
#      Rows: BENCH_USERS users (user{n}@example.com; ~1% admin, ~0.4% support, ~0.2%
#      auditor, ~2% disabled, created over the last 2 years in id order),
#      BENCH_AUDIT audit events (the last year, in id order, a realistic mix of actions),
#      BENCH_SESSIONS sessions of random users (~1% expired, ~1% revoked: the server
#      deletes those 10 minutes after its start, so a long run sees that purge);
#   3. the server on the seeded database (APP_ENV=production, metrics off), then
#      scripts/bench-admin/measure.py: per call, a few warm-up requests and BENCH_REPEAT
#      sequential ones on one keep-alive connection; p50/p99 of the client-measured
#      wall time, the statuses seen, and pass/fail of admin calls against a 20 ms p99.
# Prints a markdown table. Slow calls and non-200 answers are results, shown in the
# table: the script exits 0. It exits non-zero only if something fails to run.
#
# Knobs (environment): BENCH_USERS (default 1000000), BENCH_AUDIT (10000000),
# BENCH_SESSIONS (500000), BENCH_REPEAT (requests per measurement, 200),
# BENCH_LOGIN_REPEAT (logins measured, 20: bcrypt is slow), BENCH_WARMUP (3),
# BENCH_BCRYPT_COST (12), BENCH_TARGET_MS (20), BENCH_CALL_BUDGET_S (stop repeating
# a call after this many seconds, at least 20 samples; 0 = never, the default),
# BENCH_SKIP_BUILD=1 (reuse target/release/turnstile), BENCH_BIN=PATH (measure that
# binary instead, no build: e.g. the same build on both backends while others keep
# rebuilding target/), BENCH_KEEP_DB=1 (keep the database and print where it is),
# BENCH_PG_URL.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/scripts/bench-admin"
BIN="$ROOT/target/release/turnstile"

BACKEND="${1:-}"
USERS="${BENCH_USERS:-1000000}"
AUDIT="${BENCH_AUDIT:-10000000}"
SESSIONS="${BENCH_SESSIONS:-500000}"
REPEAT="${BENCH_REPEAT:-200}"
LOGIN_REPEAT="${BENCH_LOGIN_REPEAT:-20}"
WARMUP="${BENCH_WARMUP:-3}"
COST="${BENCH_BCRYPT_COST:-12}"
TARGET_MS="${BENCH_TARGET_MS:-20}"
BUDGET="${BENCH_CALL_BUDGET_S:-0}"
PG_URL="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}"
PG_URL="${PG_URL%/}"

# Every seeded account's password, and the session lifetime of the server's default.
PASSWORD="correct horse battery"
SESSION_TTL=1209600
ADMIN_EMAIL="bench-admin@example.com"
TEMPLATE_EMAIL="bench-hash-template@example.com"

log() { printf '[bench-admin %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

case "$BACKEND" in
    sqlite | postgres) ;;
    *) echo "usage: bash scripts/bench-admin.sh sqlite|postgres" >&2; exit 2 ;;
esac
for v in USERS AUDIT SESSIONS REPEAT LOGIN_REPEAT WARMUP COST; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "BENCH_$v must be a whole number, not '${!v}'"
done
(( USERS >= 10 )) || die "BENCH_USERS must be at least 10"
(( REPEAT >= 1 && LOGIN_REPEAT >= 1 )) || die "BENCH_REPEAT and BENCH_LOGIN_REPEAT must be at least 1"

# ---------------------------------------------------------------- tools
command -v python3 >/dev/null || die "python3 is required"
if [ "$BACKEND" = postgres ]; then
    command -v psql >/dev/null || die "psql is required for the postgres backend"
fi
SQLITE_CLI=""
if [ "$BACKEND" = sqlite ] && command -v sqlite3 >/dev/null; then
    SQLITE_CLI="$(command -v sqlite3)"
fi

# ---------------------------------------------------------------- cleanup
WORK="$(mktemp -d "${TMPDIR:-/tmp}/turnstile-bench-admin.XXXXXX")"
SERVER_PID=""
PG_DB=""
KEEP="${BENCH_KEEP_DB:-0}"

stop_server() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    [ -n "$SERVER_PID" ] && wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_server
    if [ "$KEEP" = 1 ]; then
        if [ -n "$PG_DB" ]; then
            log "kept the database: $PG_URL/$PG_DB (drop it with: psql $PG_URL/postgres -c 'DROP DATABASE \"$PG_DB\"')"
        fi
        log "kept $WORK (server logs$([ "$BACKEND" = sqlite ] && echo ", turnstile.db"))"
    else
        if [ -n "$PG_DB" ]; then
            psql -X -q "$PG_URL/postgres" -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 \
                || log "warning: could not drop database $PG_DB"
        fi
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build
if [ -n "${BENCH_BIN:-}" ]; then
    BIN="$BENCH_BIN"
elif [ "${BENCH_SKIP_BUILD:-0}" != "1" ]; then
    log "cargo build --release --locked"
    (cd "$ROOT" && cargo build --release --locked)
fi
[ -x "$BIN" ] || die "$BIN not found (build it, or unset BENCH_SKIP_BUILD)"
# A private copy: target/release is shared, and a rebuild in the middle of the run (a
# new migration applied at the server's start, say) would mix two versions.
BIN_NAME="$BIN"
BIN_BUILT="$(date -u -r "$BIN" +%Y-%m-%dT%H:%M:%SZ)"
cp "$BIN" "$WORK/turnstile"
BIN="$WORK/turnstile"

# ---------------------------------------------------------------- helpers
now_s() { printf '%s' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
random_hex() { python3 -c "import secrets; print(secrets.token_hex($1))"; }

JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
ADMIN_PASSWORD="bench-admin-$(random_hex 12)"
export BENCH_ADMIN_PASSWORD="$ADMIN_PASSWORD" BENCH_TEMPLATE_PASSWORD="$PASSWORD"

if [ "$BACKEND" = postgres ]; then
    PG_NAME="turnstile_bench_admin_$(date +%s)_$$_$(random_hex 3)"
    DB_URL="$PG_URL/$PG_NAME"
else
    DB_FILE="$WORK/turnstile.db"
    DB_URL="sqlite://$DB_FILE"
fi

# The binary with the run's settings (APP_ENV=production: a JWT secret is required).
APP_ENV_VARS=(
    APP_ENV=production
    APP_CONFIG_DIR="$ROOT/config"
    APP__SERVER__HOST=127.0.0.1
    APP__SERVER__PORT=0
    APP__SERVER__SHUTDOWN_TIMEOUT_SECS=5
    APP__DATABASE__URL="$DB_URL"
    APP__AUTH__JWT_SECRET="$JWT_SECRET"
    APP__AUTH__BCRYPT_COST="$COST"
    APP__METRICS__ENABLED=false
    RUST_LOG=warn
)
app() { env "${APP_ENV_VARS[@]}" "$BIN" "$@"; }

# psql on the bench database: stop at the first error, quiet, no ~/.psqlrc.
pg() { psql -X -q -v ON_ERROR_STOP=1 "$DB_URL" "$@"; }
# One value from a query, either backend.
scalar() {
    if [ "$BACKEND" = postgres ]; then
        pg -At -c "$1"
    elif [ -n "$SQLITE_CLI" ]; then
        "$SQLITE_CLI" -batch -noheader "$DB_FILE" "$1"
    else
        python3 - "$DB_FILE" "$1" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
for row in con.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
PY
    fi
}
# Runs an SQL script (a file) on the SQLite database: the CLI, or python3's module.
sqlite_run() {
    if [ -n "$SQLITE_CLI" ]; then
        "$SQLITE_CLI" -batch -bail "$DB_FILE" <"$1" >/dev/null
    else
        python3 - "$DB_FILE" "$1" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
with open(sys.argv[2]) as f:
    con.executescript(f.read())
con.close()
PY
    fi
}

# SQL that turns epoch seconds into a TIMESTAMP the way the app stores it (UTC).
ts() {
    if [ "$BACKEND" = postgres ]; then
        printf "(to_timestamp(%s) AT TIME ZONE 'utc')" "$1"
    else
        printf "strftime('%%Y-%%m-%%d %%H:%%M:%%S', %s, 'unixepoch')" "$1"
    fi
}
# SQL for a pseudo-random whole number in 0..$2-1, draw number $1 of row n.
# PostgreSQL: a hash of n (hashint8extended, deterministic); SQLite: random() in the
# recursive CTE (see load_table: columns r1..r6 hold the row's draws, fixed per row).
rnd() {
    if [ "$BACKEND" = postgres ]; then
        printf 'abs(hashint8extended(n, %s) %% %s)' "$1" "$2"
    else
        printf '(r%s %% %s)' "$1" "$2"
    fi
}
least() { if [ "$BACKEND" = postgres ]; then printf 'least(%s, %s)' "$1" "$2"; else printf 'min(%s, %s)' "$1" "$2"; fi; }
now_ts_sql() {
    if [ "$BACKEND" = postgres ]; then echo "(now() AT TIME ZONE 'utc')"; else echo "strftime('%Y-%m-%d %H:%M:%f', 'now')"; fi
}

# Bulk INSERT ... SELECT over n = 1..$count, secondary indexes of $table dropped for
# the load and rebuilt after it. $select_sql may use n and rnd(). One transaction,
# except on PostgreSQL when the table has triggers of its own (users: the user_stats
# counter of migration 2026-12-01-000004): they stay on, so whatever they maintain
# is right, but a counter row updated once per inserted row within one transaction
# piles up row versions and makes the load quadratic (100000 users: 140 s), so such
# a table is loaded in batches of $PG_TRIGGER_BATCH rows, each committed.
PG_TRIGGER_BATCH=1000
load_table() {
    local table=$1 count=$2 columns=$3 select_sql=$4
    local sql="$WORK/seed-$table.sql"
    if [ "$BACKEND" = postgres ]; then
        local triggers
        triggers="$(pg -At -c "SELECT string_agg(tgname, ', ') FROM pg_trigger WHERE tgrelid = '$table'::regclass AND NOT tgisinternal")"
        cat >"$sql" <<EOF
BEGIN;
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
CREATE TEMP TABLE bench_indexes AS
    SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE i.indrelid = '$table'::regclass
      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid);
DO \$\$ DECLARE r record; BEGIN
    FOR r IN SELECT name FROM bench_indexes LOOP EXECUTE format('DROP INDEX %I', r.name); END LOOP;
END \$\$;
EOF
        if [ -z "$triggers" ]; then
            cat >>"$sql" <<EOF
INSERT INTO $table ($columns)
$select_sql
FROM generate_series(1::bigint, $count::bigint) AS n;
EOF
        else
            log "$table has triggers ($triggers): loading it in committed batches of $PG_TRIGGER_BATCH rows"
            cat >>"$sql" <<EOF
COMMIT;
DO \$bench\$ DECLARE b bigint; BEGIN
    FOR b IN 0 .. ($count - 1) / $PG_TRIGGER_BATCH LOOP
        INSERT INTO $table ($columns)
        $select_sql
        FROM generate_series(b * $PG_TRIGGER_BATCH + 1, least((b + 1) * $PG_TRIGGER_BATCH, $count::bigint)) AS n;
        COMMIT;
    END LOOP;
END \$bench\$;
BEGIN;
EOF
        fi
        cat >>"$sql" <<EOF
DO \$\$ DECLARE r record; BEGIN
    FOR r IN SELECT def FROM bench_indexes LOOP EXECUTE r.def; END LOOP;
END \$\$;
DROP TABLE bench_indexes;
COMMIT;
EOF
        pg -f "$sql" >/dev/null
    else
        local drops creates POS=9223372036854775807
        drops="$(scalar "SELECT 'DROP INDEX \"' || name || '\";' FROM sqlite_master WHERE type = 'index' AND tbl_name = '$table' AND sql IS NOT NULL")"
        creates="$(scalar "SELECT replace(sql, char(10), ' ') || ';' FROM sqlite_master WHERE type = 'index' AND tbl_name = '$table' AND sql IS NOT NULL")"
        cat >"$sql" <<EOF
PRAGMA journal_mode = WAL;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -1048576;
PRAGMA temp_store = MEMORY;
BEGIN;
$drops
WITH RECURSIVE c(n, r1, r2, r3, r4, r5, r6) AS (
    SELECT 1, random() & $POS, random() & $POS, random() & $POS, random() & $POS, random() & $POS, random() & $POS
    UNION ALL
    SELECT n + 1, random() & $POS, random() & $POS, random() & $POS, random() & $POS, random() & $POS, random() & $POS
    FROM c WHERE n < $count
)
INSERT INTO $table ($columns)
$select_sql
FROM c;
$creates
COMMIT;
EOF
        sqlite_run "$sql"
    fi
}

# ---------------------------------------------------------------- database
START_ALL="$(now_s)"
if [ "$BACKEND" = postgres ]; then
    psql -X -q -v ON_ERROR_STOP=1 "$PG_URL/postgres" -c "CREATE DATABASE \"$PG_NAME\"" >/dev/null \
        || die "could not create database $PG_NAME on $PG_URL"
    PG_DB="$PG_NAME"
    log "database $DB_URL"
else
    log "database $DB_FILE ($([ -n "$SQLITE_CLI" ] && echo "sqlite3 CLI $("$SQLITE_CLI" --version | cut -d' ' -f1)" || echo "python3 sqlite3 module"))"
fi

t="$(now_s)"
app migrate >"$WORK/migrate.log" 2>&1 || die "turnstile migrate failed: $(tail -n 20 "$WORK/migrate.log")"
log "schema: $(tail -n 1 "$WORK/migrate.log") ($(since "$t") s)"

t="$(now_s)"
app create-admin --email "$ADMIN_EMAIL" --password-env BENCH_ADMIN_PASSWORD >"$WORK/admin.log" 2>&1 \
    || die "create-admin failed: $(tail -n 20 "$WORK/admin.log")"
app create-admin --email "$TEMPLATE_EMAIL" --password-env BENCH_TEMPLATE_PASSWORD >>"$WORK/admin.log" 2>&1 \
    || die "create-admin (hash template) failed: $(tail -n 20 "$WORK/admin.log")"
HASH="$(scalar "SELECT password_hash FROM users WHERE email = '$TEMPLATE_EMAIL'")"
[[ $HASH == \$2* ]] || die "unexpected password hash: '$HASH'"
ADMIN_ID="$(scalar "SELECT id FROM users WHERE email = '$ADMIN_EMAIL'")"
# The template goes; so do the two admin_bootstrapped events, so that audit ids and
# times grow together (one for the admin is appended after the seeded history).
scalar "DELETE FROM users WHERE email = '$TEMPLATE_EMAIL'" >/dev/null
scalar "DELETE FROM audit_events" >/dev/null
UBASE="$(scalar "SELECT coalesce(max(id), 0) FROM users")"
log "admin $ADMIN_EMAIL (id $ADMIN_ID) and the shared bcrypt hash (cost $COST) made with create-admin ($(since "$t") s)"

# Seeded user n has id UBASE + n. Times are epoch seconds.
NOW="$(date +%s)"
USER_SPAN=$((730 * 86400))
AUDIT_SPAN=$((365 * 86400))
USER_START=$((NOW - USER_SPAN))
AUDIT_START=$((NOW - AUDIT_SPAN))
SEEDED_ADMINS=$((USERS / 100))

# ---------------------------------------------------------------- seed: roles
t="$(now_s)"
ROLES_SQL="INSERT INTO roles (name, description, builtin, created_at, updated_at) VALUES
    ('support', 'Help desk', $([ "$BACKEND" = postgres ] && echo FALSE || echo 0), $(now_ts_sql), $(now_ts_sql)),
    ('auditor', 'Reads the audit trail', $([ "$BACKEND" = postgres ] && echo FALSE || echo 0), $(now_ts_sql), $(now_ts_sql));
INSERT INTO role_permissions (role, permission) VALUES
    ('support', 'users:read'), ('support', 'audit:read'), ('support', 'users:unlock'),
    ('support', 'sessions:revoke'), ('auditor', 'audit:read');"
if [ "$BACKEND" = postgres ]; then
    pg -1 -c "$ROLES_SQL" >/dev/null
else
    printf '%s\n' "$ROLES_SQL" >"$WORK/seed-roles.sql"
    sqlite_run "$WORK/seed-roles.sql"
fi
T_ROLES="$(since "$t")"

# ---------------------------------------------------------------- seed: users
# ~1% admin (every 100th), ~0.4% support, ~0.2% auditor; ~2% disabled; created in id
# order over two years; ~75% have logged in since; ~60% verified their address.
log "seeding users: $USERS rows"
t="$(now_s)"
CREATED="($USER_START + (n - 1) * $USER_SPAN / $USERS)"
if [ "$BACKEND" = postgres ]; then TRUE_=TRUE; FALSE_=FALSE; else TRUE_=1; FALSE_=0; fi
load_table users "$USERS" \
    "id, email, password_hash, role, disabled, password_version, created_at, updated_at, last_login_at, email_verified, mfa_enabled" \
    "SELECT $UBASE + n,
       'user' || n || '@example.com',
       '$HASH',
       CASE WHEN n % 100 = 0 THEN 'admin' WHEN n % 250 = 1 THEN 'support'
            WHEN n % 500 = 3 THEN 'auditor' ELSE 'user' END,
       CASE WHEN $(rnd 1 1000) < 20 THEN $TRUE_ ELSE $FALSE_ END,
       1,
       $(ts "$CREATED"),
       $(ts "$CREATED"),
       CASE WHEN $(rnd 2 1000) < 750
            THEN $(ts "($CREATED + ($NOW - $CREATED) * $(rnd 3 1000000) / 1000000)") END,
       CASE WHEN $(rnd 4 1000) < 600 THEN $TRUE_ ELSE $FALSE_ END,
       $FALSE_"
T_USERS="$(since "$t")"
log "users: $T_USERS s"

# The accounts the measurement uses: a user in the middle (read by id, and the actor
# filter), one at a third (the target filter), and an enabled 'user' that logs in.
MID_ID=$((UBASE + USERS / 2))
TARGET_ID=$((UBASE + USERS / 3))
LOGIN_N=$((USERS / 2 + 1))
LOGIN_EMAIL="user$LOGIN_N@example.com"
scalar "UPDATE users SET role = 'user', disabled = $FALSE_ WHERE email = '$LOGIN_EMAIL'" >/dev/null

# ---------------------------------------------------------------- seed: sessions
# Random users; ~98% live (created within the session lifetime), ~1% past their
# expiry, ~1% revoked (the server's purge deletes those 10 min after it starts);
# password version 1, amr 'pwd' (as stored: see src/domain/amr.rs).
log "seeding sessions: $SESSIONS rows"
t="$(now_s)"
AGE="(CASE WHEN $(rnd 2 1000) < 990 THEN $(rnd 3 $((SESSION_TTL - 3600))) ELSE $SESSION_TTL + $(rnd 3 $((7 * 86400))) END)"
S_CREATED="($NOW - $AGE)"
if [ "$BACKEND" = postgres ]; then
    SID="md5('bench-session-' || n)"
else
    SID="lower(hex(randomblob(16)))"
fi
if (( SESSIONS > 0 )); then
    load_table sessions "$SESSIONS" \
        "id, user_id, password_version, created_at, last_used_at, expires_at, user_agent, ip, revoked_at, amr" \
        "SELECT $SID,
           $UBASE + 1 + $(rnd 1 "$USERS"),
           1,
           $(ts "$S_CREATED"),
           $(ts "($S_CREATED + $(least "$AGE" "$SESSION_TTL") * $(rnd 4 1000) / 1000)"),
           $(ts "($S_CREATED + $SESSION_TTL)"),
           CASE $(rnd 5 4)
                WHEN 0 THEN 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36'
                WHEN 1 THEN 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15'
                WHEN 2 THEN 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148'
                ELSE 'okhttp/4.12.0' END,
           '10.' || $(rnd 6 256) || '.' || ($(rnd 6 65536) / 256) || '.' || ($(rnd 6 16777216) / 65536),
           CASE WHEN $(rnd 5 1000) >= 990 THEN $(ts "($S_CREATED + $(least "$AGE" "$SESSION_TTL") / 2)") END,
           'pwd'"
fi
T_SESSIONS="$(since "$t")"
log "sessions: $T_SESSIONS s"

# ---------------------------------------------------------------- seed: audit_events
# One event every AUDIT_SPAN / AUDIT seconds over the last year, in id order. Actions
# (per mille) in three groups: done by the user to themselves (actor = target = the
# user), by nobody signed in (actor null, target = the account), by an admin (actor =
# one of the seeded admins, target = the user).
SELF_ACTIONS="login_success:439 logout:110 refresh_replayed:20 register:50 password_change:30
password_change_failure:5 session_revoked:40 email_verification_sent:25 email_verified:20
mfa_enabled:5 mfa_disabled:2 mfa_failure:5 recovery_code_used:1"
ANON_ACTIONS="login_failure:150 lockout:7 password_reset_requested:25 password_reset:15 refresh_reuse_detected:3"
ADMIN_ACTIONS="user_created:20 role_change:10 user_disabled:5 user_enabled:3 user_deleted:2 unlock:3 sessions_revoked:5"
R="$(rnd 1 1000)"
ACTION_CASE="CASE"
acc=0
for pair in $SELF_ACTIONS; do acc=$((acc + ${pair#*:})); ACTION_CASE+=" WHEN $R < $acc THEN '${pair%%:*}'"; done
SELF_END=$acc
for pair in $ANON_ACTIONS; do acc=$((acc + ${pair#*:})); ACTION_CASE+=" WHEN $R < $acc THEN '${pair%%:*}'"; done
ANON_END=$acc
for pair in $ADMIN_ACTIONS; do acc=$((acc + ${pair#*:})); ACTION_CASE+=" WHEN $R < $acc THEN '${pair%%:*}'"; done
(( acc == 1000 )) || die "the audit action mix adds up to $acc per mille, not 1000"
ACTION_CASE+=" END"
if (( SEEDED_ADMINS > 0 )); then
    ADMIN_ACTOR="$UBASE + 100 * (1 + $(rnd 3 "$SEEDED_ADMINS"))"
else
    ADMIN_ACTOR="$ADMIN_ID"
fi
ABASE="$(scalar "SELECT coalesce(max(id), 0) FROM audit_events")"
log "seeding audit_events: $AUDIT rows"
t="$(now_s)"
if (( AUDIT > 0 )); then
    load_table audit_events "$AUDIT" \
        "id, at, actor_id, action, target_id, ip, detail" \
        "SELECT $ABASE + n,
           $(ts "($AUDIT_START + (n - 1) * $AUDIT_SPAN / $AUDIT)"),
           CASE WHEN $R < $SELF_END THEN $UBASE + 1 + $(rnd 2 "$USERS")
                WHEN $R < $ANON_END THEN NULL
                ELSE $ADMIN_ACTOR END,
           $ACTION_CASE,
           $UBASE + 1 + $(rnd 2 "$USERS"),
           '10.' || $(rnd 4 256) || '.' || ($(rnd 4 65536) / 256) || '.' || ($(rnd 4 16777216) / 65536),
           '{}'"
fi
T_AUDIT="$(since "$t")"
log "audit_events: $T_AUDIT s"

# ---------------------------------------------------------------- finish the data
t="$(now_s)"
# The admin's own creation, after the seeded history (ids and times grow together).
scalar "INSERT INTO audit_events (id, at, actor_id, action, target_id, ip, detail)
        VALUES ($ABASE + $AUDIT + 1, $(now_ts_sql), NULL, 'admin_bootstrapped', $ADMIN_ID, NULL, '{}')" >/dev/null
if [ "$BACKEND" = postgres ]; then
    # Explicit ids were inserted: move the identity sequences past them.
    pg -c "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users));
           SELECT setval(pg_get_serial_sequence('audit_events', 'id'), (SELECT max(id) FROM audit_events));" >/dev/null
    # VACUUM too: sets the visibility map and keeps autovacuum from starting on the
    # fresh tables in the middle of the measurement.
    pg -c "VACUUM (ANALYZE)" >/dev/null
else
    printf 'ANALYZE;\nPRAGMA wal_checkpoint(TRUNCATE);\n' >"$WORK/analyze.sql"
    sqlite_run "$WORK/analyze.sql"
fi
T_ANALYZE="$(since "$t")"
T_SEED_TOTAL="$(since "$START_ALL")"
read -r N_USERS N_SESSIONS N_AUDIT N_DEAD < <(scalar "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM sessions),
    (SELECT count(*) FROM audit_events),
    (SELECT count(*) FROM sessions WHERE revoked_at IS NOT NULL OR expires_at < $(ts "$NOW"))" | tr '|' ' ')
if [ "$BACKEND" = postgres ]; then
    DB_SIZE="$(pg -At -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
else
    DB_SIZE="$(du -sh "$DB_FILE" | cut -f1)"
fi
log "analyze: $T_ANALYZE s; database ready in $T_SEED_TOTAL s ($DB_SIZE): $N_USERS users, $N_SESSIONS sessions, $N_AUDIT audit events"

# ---------------------------------------------------------------- server
log "starting turnstile (a copy of $BIN_NAME built $BIN_BUILT) on the seeded database"
: >"$WORK/server.stdout.log"
: >"$WORK/server.stderr.log"
(cd "$WORK" && exec env "${APP_ENV_VARS[@]}" "$BIN" serve >"$WORK/server.stdout.log" 2>"$WORK/server.stderr.log") &
SERVER_PID=$!
t="$(now_s)"
PORT=""
for _ in $(seq 1 1200); do
    kill -0 "$SERVER_PID" 2>/dev/null \
        || die "the server exited: $(tail -n 20 "$WORK/server.stderr.log")"
    PORT="$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$#\1#p' "$WORK/server.stdout.log" | head -n 1)"
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || die "no 'listening on' line within 120 s"
BASE="http://127.0.0.1:$PORT"
log "server pid $SERVER_PID listening on $BASE (ready in $(since "$t") s)"

# ---------------------------------------------------------------- measure
USERS_DEEP=$(( USERS * 4 / 5 / 20 )); (( USERS_DEEP >= 1 )) || USERS_DEEP=1
AUDIT_DEEP=$(( AUDIT * 2 / 5 / 20 )); (( AUDIT_DEEP >= 1 )) || AUDIT_DEEP=1
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
MEASURE_ARGS=(
    --base "$BASE"
    --admin-email "$ADMIN_EMAIL" --admin-password-env BENCH_ADMIN_PASSWORD
    --user-email "$LOGIN_EMAIL" --user-password "$PASSWORD"
    --mid-user-id "$MID_ID" --actor-id "$MID_ID" --target-id "$TARGET_ID"
    --users-deep-page "$USERS_DEEP" --audit-deep-page "$AUDIT_DEEP"
    --repeat "$REPEAT" --login-repeat "$LOGIN_REPEAT" --warmup "$WARMUP"
    --target-ms "$TARGET_MS" --budget "$BUDGET" --server-pid "$SERVER_PID"
    --expect-users "$N_USERS"
)
[ "$BACKEND" = postgres ] && MEASURE_ARGS+=(--postgres)
python3 "$HERE/measure.py" "${MEASURE_ARGS[@]}" >"$WORK/table.md" \
    || die "the measurement failed (server log: $(tail -n 20 "$WORK/server.stderr.log"))"
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"
kill -0 "$SERVER_PID" 2>/dev/null || die "the server died: $(tail -n 20 "$WORK/server.stderr.log")"
SERVER_RSS_MIB="$(awk '$1 == "VmHWM:" { printf "%.1f", $2 / 1024 }' "/proc/$SERVER_PID/status")"
WARNINGS="$(grep -c . "$WORK/server.stderr.log" || true)"

# ---------------------------------------------------------------- report
if [ "$BACKEND" = postgres ]; then
    DB_VERSION="PostgreSQL $(pg -At -c 'SHOW server_version')"
else
    DB_VERSION="SQLite (bundled with turnstile; seeded with $([ -n "$SQLITE_CLI" ] && echo "the sqlite3 CLI $("$SQLITE_CLI" --version | cut -d' ' -f1)" || echo "python3's sqlite3 module"))"
fi
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"

cat <<REPORT

== turnstile admin API bench: $BACKEND, $(date -u +%Y-%m-%dT%H:%M:%SZ)
backend: $DB_VERSION; database $DB_SIZE
rows: users $N_USERS (seeded $USERS + the admin), audit_events $N_AUDIT, sessions $N_SESSIONS (of which $N_DEAD expired or revoked: the server purges those 10 min after its start)
machine: $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r); load average before $LOAD_BEFORE, after $LOAD_AFTER
commit: $COMMIT (binary $BIN_NAME built $BIN_BUILT; the working tree may differ from the commit)
seeding: roles ${T_ROLES} s, users ${T_USERS} s, sessions ${T_SESSIONS} s, audit_events ${T_AUDIT} s, $([ "$BACKEND" = postgres ] && echo "VACUUM ANALYZE" || echo ANALYZE) ${T_ANALYZE} s; from an empty database to ready ${T_SEED_TOTAL} s
measurement: $WARMUP warm-up + $REPEAT sequential requests per call ($LOGIN_REPEAT for login, bcrypt cost $COST), one keep-alive connection, client wall time; deep pages: users page $USERS_DEEP, audit page $AUDIT_DEEP (per_page 20)
server: VmHWM $SERVER_RSS_MIB MiB; $WARNINGS line(s) on stderr (RUST_LOG=warn)

REPORT
cat "$WORK/table.md"
if (( WARNINGS > 0 )); then
    echo
    echo "server stderr (last 10 lines):"
    tail -n 10 "$WORK/server.stderr.log" | sed 's/^/    /'
fi
