#!/usr/bin/env bash
# turnstile's EdDSA, ES256 and RS256 access tokens, verified by a JWT library
# turnstile does not use (PyJWT, scripts/jwks/verify.py) from /.well-known/jwks.json
# alone, before and after a key rotation.
#
#   bash scripts/jwks-check.sh
#
# Starts the debug binary (built if missing) once per algorithm on a fresh SQLite
# database with a bootstrap admin; PyJWT is pinned (scripts/jwks/requirements.txt)
# and installed once under target/jwks-tools.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT="$PWD"
VENV="$ROOT/target/jwks-tools/venv"
BIN="$ROOT/target/debug/turnstile"
log() { printf '[jwks-check] %s\n' "$*" >&2; }

if ! cmp -s scripts/jwks/requirements.txt "$VENV/.requirements" 2>/dev/null; then
    log "installing PyJWT"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/jwks/requirements.txt
    cp scripts/jwks/requirements.txt "$VENV/.requirements"
fi
cargo build --quiet --locked --bin turnstile

WORK="$(mktemp -d "${TMPDIR:-/tmp}/turnstile-jwks.XXXXXX")"
PID=""
cleanup() {
    [ -z "$PID" ] || kill "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

for ALG in EdDSA ES256 RS256; do
    (
        for key in $(env | grep -o '^APP__[A-Z_]*' || true); do unset "$key"; done
        unset DATABASE_URL
        export APP_ENV=test APP__SERVER__PORT=0 APP__DATABASE__URL="sqlite://$WORK/$ALG.db"
        export APP__AUTH__JWT_SECRET="$(head -c 48 /dev/urandom | base64 | tr -d '\n')"
        export APP__AUTH__SIGNING_ALGORITHM="$ALG" APP__AUTH__BCRYPT_COST=4
        export APP__BOOTSTRAP__ADMIN_EMAIL=jwks-admin@example.com
        export APP__BOOTSTRAP__ADMIN_PASSWORD="jwks admin password"
        export RUST_LOG=warn
        exec "$BIN" serve
    ) >"$WORK/$ALG.out" 2>"$WORK/$ALG.log" &
    PID=$!
    URL=""
    for _ in $(seq 1 300); do
        URL="$(grep -o 'listening on http://[0-9.:]*' "$WORK/$ALG.out" | head -n 1 | sed 's/listening on //' || true)"
        [ -n "$URL" ] && break
        kill -0 "$PID" 2>/dev/null || { cat "$WORK/$ALG.log" >&2; exit 1; }
        sleep 0.1
    done
    [ -n "$URL" ] || { log "$ALG: the server did not start"; exit 1; }
    "$VENV/bin/python" scripts/jwks/verify.py "$URL" "$ALG"
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
done
log "ok: every algorithm verifies from the JWKS in an independent library"
