#!/usr/bin/env bash
# API fuzzing: schemathesis against a live release build, checked against the server's
# own OpenAPI 3.1 document (GET /openapi.json). Fails on any 5xx, on any response
# whose status code, content type, headers or body the document does not allow, and
# on a request the document forbids being accepted (see "Checks").
#
#   bash scripts/fuzz.sh            # from any directory
#
# Steps: build target/release/turnstile (skip with FUZZ_SKIP_BUILD=1); create
# target/fuzz-venv with a pinned schemathesis if needed; start the server on a fresh
# SQLite database in a temp dir (APP_ENV=test, port 0, random JWT secret, bcrypt cost 4,
# lockout effectively off, a bootstrap admin, mail through an aiosmtpd sink); log in as that admin; run schemathesis
# (phases examples, coverage, fuzzing; positive and negative data) in two passes;
# check the admin token survived; print a summary; exit with schemathesis's status.
#
# What is excluded, and why. Only requests that would destroy the run's own
# credentials (the admin token sent with -H on every request of the main pass) are
# kept away from them; every operation is fuzzed, with every check:
#   - POST /auth/logout ends the session of the token it is sent with: that is its
#     job. It is excluded from the main pass (--exclude-path) and fuzzed in a second
#     pass of its own, where a schemathesis auth provider (scripts/fuzz-hooks.py) logs
#     in anew for every generated case, so each call ends a throw-away session.
#   - PATCH /api/admin/users/{id}, DELETE /api/admin/users/{id} and
#     POST /api/admin/users/{id}/revoke-sessions with {id} = the fuzzing admin's own id
#     get an id that is no user's instead (a `map_case` hook; such a request still
#     tests the 404 path): demoting, disabling or deleting that admin, or revoking its
#     sessions, kills the token (`last_admin` stops that only until the run has
#     created another admin with POST /api/admin/users). Every other id, and
#     everything else about these operations, is fuzzed.
#   - DELETE /api/sessions/{id} with {id} = the run's own session gets an id that is
#     no session's instead, by the same hook: session ids are random, but schemathesis
#     feeds identifiers seen in responses (GET /api/sessions lists this one) back into
#     path parameters.
# Not excluded, because a generated request cannot reach the run's session: POST
# /api/profile/password (needs the admin's random password, never sent back), POST
# /auth/refresh (the run's refresh token is never shown to schemathesis).
# The stateful phase is not run (it could chain GET /api/sessions into a DELETE of the
# current session). After the main pass the token is checked again; had it died, the
# run fails, because the later results would be meaningless (all 401).
#
# Checks: every schemathesis check (FUZZ_CHECKS=all), i.e. not_a_server_error,
# unsupported_method (a documented path with an undocumented method must get 405 with
# an Allow header), status_code_conformance,
# content_type_conformance, response_headers_conformance, response_schema_conformance,
# negative_data_rejection (a request the document forbids must get a 4xx),
# positive_data_acceptance (one it allows must not get a 4xx other than 401, 403, 404,
# 409, 429), ignored_auth (a secured operation must refuse a missing or invalid token),
# and the checks that need data this run does not produce (missing_required_header,
# allow_header_conformance, use_after_free, ensure_resource_availability,
# object_level_authorization). scripts/fuzz.toml lets three operations answer 422 to
# schema-valid data that names a role nobody has defined (no schema can list which
# role names exist), and three MFA operations answer 422 to a well-formed code that
# is not the current one. Any 500 or panic in the server log also fails the run.
#
# Environment:
#   FUZZ_SKIP_BUILD=1      use the existing target/release/turnstile
#   FUZZ_MAX_EXAMPLES=50   schemathesis --max-examples: test cases per operation
#                          and phase (the coverage phase generates its own set)
#   FUZZ_WORKERS=2         schemathesis workers (1 or 2 on this 2-core machine)
#   FUZZ_CHECKS=all        schemathesis --checks (comma-separated)
#   FUZZ_EXCLUDE_CHECKS=   schemathesis --exclude-checks (default: none)
#   FUZZ_SEED=N            reproduce a run (schemathesis prints the seed it used)
#   FUZZ_REPORT_DIR        where the JUnit reports and the server log are kept
#                          (default target/fuzz-report)
#   FUZZ_PYTHON=python3    interpreter for the venv
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
# The SMTP server the fuzzed server mails through (a sink that keeps nothing), so the
# mail routes run their real path instead of answering 501.
AIOSMTPD_VERSION=1.4.6

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-50}"
CHECKS="${FUZZ_CHECKS:-all}"
EXCLUDE_CHECKS="${FUZZ_EXCLUDE_CHECKS-}"
WORKERS="${FUZZ_WORKERS:-2}"
REPORT_DIR="${FUZZ_REPORT_DIR:-$ROOT/target/fuzz-report}"
PYTHON="${FUZZ_PYTHON:-python3}"
VENV="$ROOT/target/fuzz-venv"
BIN="$ROOT/target/release/turnstile"
HOOKS="$ROOT/scripts/fuzz-hooks.py"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'fuzz.sh: error: %s\n' "$*" >&2; exit 1; }

START_TIME=$SECONDS
WORK=""
SERVER_PID=""
SMTP_PID=""

cleanup() {
    local status=$?
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        # Give it a moment to drain, then make sure it is gone.
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "$SMTP_PID" ]; then
        kill "$SMTP_PID" 2>/dev/null || true
        wait "$SMTP_PID" 2>/dev/null || true
    fi
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        # Keep the server log next to the report: it has the cause of any 500.
        if [ -f "$WORK/server.log" ] && [ -d "$REPORT_DIR" ]; then
            cp "$WORK/server.log" "$REPORT_DIR/server.log" 2>/dev/null || true
        fi
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. build -------------------------------------------------------------------------
if [ "${FUZZ_SKIP_BUILD:-0}" = "1" ]; then
    log "FUZZ_SKIP_BUILD=1: using the existing $BIN"
else
    log "building the release binary (cargo build --release --locked)"
    cargo build --release --locked
fi
[ -x "$BIN" ] || die "$BIN not found (build it, or unset FUZZ_SKIP_BUILD)"

# --- 2. schemathesis ------------------------------------------------------------------
installed_version() {
    "$VENV/bin/python" -c \
        'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true
}
if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
if [ "$(installed_version)" != "$SCHEMATHESIS_VERSION" ]; then
    log "installing schemathesis==$SCHEMATHESIS_VERSION into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "schemathesis==$SCHEMATHESIS_VERSION"
fi
[ "$(installed_version)" = "$SCHEMATHESIS_VERSION" ] \
    || die "schemathesis $SCHEMATHESIS_VERSION is not installed in $VENV"
if ! "$VENV/bin/python" -c "import aiosmtpd" 2>/dev/null; then
    log "installing aiosmtpd==$AIOSMTPD_VERSION into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "aiosmtpd==$AIOSMTPD_VERSION"
fi

# --- 3. server ------------------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/turnstile-fuzz.XXXXXX")"
mkdir -p "$REPORT_DIR"
rm -f "$REPORT_DIR"/junit-main.xml "$REPORT_DIR"/junit-logout.xml "$REPORT_DIR"/server.log

random_b64() { head -c "$1" /dev/urandom | base64 | tr -d '\n'; }
ADMIN_EMAIL="fuzz-admin@example.com"
ADMIN_PASSWORD="$(random_b64 24)"

SMTP_PORT="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$VENV/bin/python" -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Sink \
    >"$WORK/smtp.log" 2>&1 &
SMTP_PID=$!
log "SMTP sink (aiosmtpd) on 127.0.0.1:$SMTP_PORT"

log "starting $BIN on a fresh SQLite database"
(
    # Only this script's settings: nothing inherited from the caller's APP__* or
    # DATABASE_URL may point the server at another database or change its rules.
    while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(APP__|APP_ENV$|APP_CONFIG_DIR$|DATABASE_URL$)' || true)
    export APP_ENV=test
    export APP_CONFIG_DIR="$ROOT/config"
    export APP__SERVER__HOST=127.0.0.1
    export APP__SERVER__PORT=0
    export APP__SERVER__WORKERS=2
    export APP__DATABASE__URL="sqlite://$WORK/fuzz.db"
    APP__AUTH__JWT_SECRET="$(random_b64 48)"
    export APP__AUTH__JWT_SECRET
    export APP__AUTH__BCRYPT_COST=4
    # Wrong passwords are most of what the fuzzer sends to /auth/login, all from
    # 127.0.0.1: with the default of 5 the per-IP lockout would turn the run into 429s.
    export APP__AUTH__LOGIN_MAX_FAILURES=1000000
    # Outlive any slow run (the default is 900 s).
    export APP__AUTH__ACCESS_TOKEN_TTL_SECS=7200
    # The run's one session signed in at its start: a reauthentication window as long
    # as the token keeps the MFA enrollment routes reachable past their first five
    # minutes, so their bodies are fuzzed rather than all answered 401
    # reauthentication_required (tests/api/reauth.rs tests the window itself).
    export APP__AUTH__REAUTH_WINDOW_SECS=7200
    export APP__BOOTSTRAP__ADMIN_EMAIL="$ADMIN_EMAIL"
    export APP__BOOTSTRAP__ADMIN_PASSWORD="$ADMIN_PASSWORD"
    # Mail goes to the sink; no per-address limit gets in the fuzzer's way.
    export APP__EMAIL__SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
    export APP__EMAIL__MAX_PER_ADDRESS_PER_HOUR=1000000
    export RUST_LOG="${RUST_LOG:-info}"
    exec "$BIN" serve
) >"$WORK/server.out" 2>"$WORK/server.log" &
SERVER_PID=$!

PORT=""
for _ in $(seq 1 300); do
    PORT="$(sed -n 's|^listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$|\1|p' "$WORK/server.out" | head -n 1)"
    [ -n "$PORT" ] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        cat "$WORK/server.out" "$WORK/server.log" >&2 || true
        die "the server exited before listening"
    fi
    sleep 0.1
done
if [ -z "$PORT" ]; then
    tail -n 50 "$WORK/server.log" >&2 || true
    die "the server did not print 'listening on http://127.0.0.1:PORT' within 30 s"
fi
BASE_URL="http://127.0.0.1:$PORT"
log "server pid $SERVER_PID listening on $BASE_URL"

# --- 4. admin token -------------------------------------------------------------------
LOGIN_BODY="$(ADMIN_EMAIL="$ADMIN_EMAIL" ADMIN_PASSWORD="$ADMIN_PASSWORD" "$PYTHON" -c \
    'import json, os; print(json.dumps({"email": os.environ["ADMIN_EMAIL"], "password": os.environ["ADMIN_PASSWORD"]}))')"
LOGIN_STATUS="$(curl -sS -o "$WORK/login.json" -w '%{http_code}' -X POST "$BASE_URL/auth/login" \
    -H 'Content-Type: application/json' --data-binary "$LOGIN_BODY")" || LOGIN_STATUS="no answer"
if [ "$LOGIN_STATUS" != "200" ]; then
    cat "$WORK/login.json" >&2 2>/dev/null || true
    echo "--- server log (last 40 lines) ---" >&2
    tail -n 40 "$WORK/server.log" >&2 || true
    die "admin login (POST /auth/login) failed: HTTP $LOGIN_STATUS"
fi
read -r TOKEN ADMIN_ID < <("$PYTHON" -c \
    'import json, sys; d = json.load(open(sys.argv[1])); print(d["access_token"], d["user"]["id"])' \
    "$WORK/login.json")
[ -n "$TOKEN" ] && [ -n "$ADMIN_ID" ] || die "could not read the access token from the login answer"
# The session this token belongs to (the one GET /api/sessions marks as current).
SESSION_ID="$(curl -sS -f "$BASE_URL/api/sessions" -H "Authorization: Bearer $TOKEN" \
    | "$PYTHON" -c 'import json, sys; print(next(s["id"] for s in json.load(sys.stdin) if s["current"]))')" \
    || die "could not read the admin's current session from GET /api/sessions"
log "logged in as $ADMIN_EMAIL (user id $ADMIN_ID, session $SESSION_ID)"
# Spare sessions of the same admin: GET /api/sessions lists them, schemathesis reuses
# listed ids as path parameters, so DELETE /api/sessions/{id} also gets to end real
# sessions (204), not only to answer 404.
for _ in 1 2 3; do
    curl -sS -f -o /dev/null -X POST "$BASE_URL/auth/login" \
        -H 'Content-Type: application/json' --data-binary "$LOGIN_BODY" \
        || die "spare admin login failed"
done

token_status() {
    curl -sS -o /dev/null -w '%{http_code}' "$BASE_URL/api/admin/stats" -H "Authorization: Bearer $TOKEN"
}

# --- 5. schemathesis ------------------------------------------------------------------
COMMON_ARGS=(
    --url "$BASE_URL"
    --checks "$CHECKS"
    --phases examples,coverage,fuzzing
    --mode all
    --max-examples "$MAX_EXAMPLES"
    --workers "$WORKERS"
    --request-timeout 10
    --generation-database none
    # Show the values that failed (e.g. a wrongly typed refresh_token) in reproductions:
    # every token and password here belongs to a throw-away server and secret.
    --output-sanitize false
)
if [ -n "$EXCLUDE_CHECKS" ]; then
    COMMON_ARGS+=(--exclude-checks "$EXCLUDE_CHECKS")
fi
if [ -n "${FUZZ_SEED:-}" ]; then
    COMMON_ARGS+=(--seed "$FUZZ_SEED")
fi

# run_st PASS ARGS...: one schemathesis run; its cwd is the temp dir, so nothing it
# writes lands in the repository.
run_st() {
    local pass=$1
    shift
    (
        cd "$WORK"
        export SCHEMATHESIS_HOOKS="$HOOKS" FUZZ_PASS="$pass" FUZZ_BASE_URL="$BASE_URL"
        export FUZZ_ADMIN_ID="$ADMIN_ID" FUZZ_SESSION_ID="$SESSION_ID" FUZZ_ADMIN_EMAIL="$ADMIN_EMAIL" FUZZ_ADMIN_PASSWORD="$ADMIN_PASSWORD"
        exec "$VENV/bin/st" --config-file "$ROOT/scripts/fuzz.toml" run "$BASE_URL/openapi.json" "${COMMON_ARGS[@]}" \
            --report junit --report-junit-path "$REPORT_DIR/junit-$pass.xml" "$@"
    )
}

log "schemathesis $SCHEMATHESIS_VERSION, main pass: every operation but POST /auth/logout, as the admin (max $MAX_EXAMPLES examples per operation, $WORKERS workers)"
MAIN_STATUS=0
run_st main --header "Authorization: Bearer $TOKEN" --exclude-path /auth/logout || MAIN_STATUS=$?
# Checked before the logout pass, which only ever ends sessions of its own.
TOKEN_STATUS="$(token_status || true)"

log "schemathesis $SCHEMATHESIS_VERSION, logout pass: POST /auth/logout, a new admin session per case"
LOGOUT_STATUS=0
run_st logout --include-path /auth/logout || LOGOUT_STATUS=$?

ST_STATUS=$MAIN_STATUS
[ "$ST_STATUS" -ne 0 ] || ST_STATUS=$LOGOUT_STATUS

# --- 6. summary -----------------------------------------------------------------------
SERVER_ALIVE=yes
kill -0 "$SERVER_PID" 2>/dev/null || SERVER_ALIVE=no
# AppError::Internal logs "internal error: <cause>" (the cause is never sent).
INTERNAL_ERRORS="$(grep -c 'internal error: ' "$WORK/server.log" || true)"
PANICS="$(grep -c 'panicked at' "$WORK/server.log" || true)"

echo
echo "================ fuzz summary ================"
echo "schemathesis:      $SCHEMATHESIS_VERSION (exit status: main pass $MAIN_STATUS, logout pass $LOGOUT_STATUS)"
echo "server:            $BASE_URL (still running: $SERVER_ALIVE)"
echo "max examples:      $MAX_EXAMPLES per operation, $WORKERS workers"
echo "checks:            $CHECKS${EXCLUDE_CHECKS:+ except $EXCLUDE_CHECKS}"
echo "admin token after: HTTP $TOKEN_STATUS from GET /api/admin/stats (after the main pass)"
echo "server 500s:       $INTERNAL_ERRORS 'internal error:' lines in the server log"
if [ "$INTERNAL_ERRORS" != "0" ]; then
    grep -o 'internal error: .*' "$WORK/server.log" | sort | uniq -c | sort -rn | head -n 20 | sed 's/^/    /'
fi
echo "server panics:     $PANICS 'panicked at' lines in the server log"
if [ "$PANICS" != "0" ]; then
    grep -A1 'panicked at' "$WORK/server.log" | grep -v '^--$' | sort | uniq -c | sort -rn | head -n 10 | sed 's/^/    /'
fi
echo "reports:           $REPORT_DIR/junit-{main,logout}.xml, $REPORT_DIR/server.log"
echo "duration:          $((SECONDS - START_TIME)) s"

STATUS=$ST_STATUS
if [ "$SERVER_ALIVE" != "yes" ]; then
    echo "RESULT: FAILED: the server died during the run (see $REPORT_DIR/server.log)"
    [ "$STATUS" -ne 0 ] || STATUS=1
elif [ "$TOKEN_STATUS" != "200" ]; then
    echo "RESULT: FAILED: the run's admin token no longer works, so later requests only"
    echo "        tested the 401 path; an operation destroyed it (see scripts/fuzz-hooks.py)"
    [ "$STATUS" -ne 0 ] || STATUS=1
elif [ "$ST_STATUS" -eq 0 ] && { [ "$INTERNAL_ERRORS" != "0" ] || [ "$PANICS" != "0" ]; }; then
    # A 500 no check saw, e.g. one answered to a probe, or to the auth provider's login.
    echo "RESULT: FAILED: the server logged internal errors or panics (see above)"
    STATUS=1
elif [ "$ST_STATUS" -ne 0 ]; then
    echo "RESULT: FAILED: schemathesis reported failures or errors (see its output above)"
else
    echo "RESULT: passed"
fi
echo "=============================================="
exit "$STATUS"
