#!/usr/bin/env bash
# The project's test command: formatting and clippy, unit tests, the integration
# suite on SQLite and on PostgreSQL, the OpenAPI document through a validator and two
# client generators (scripts/openapi-check.sh), the JWKS through an independent JWT
# library (scripts/jwks-check.sh), then schemathesis against a release build
# (scripts/fuzz.sh). The integration suite uses PostgreSQL (127.0.0.1:5432, user
# postgres, trust auth; each test creates and drops a database of its own); this
# script starts the local PostgreSQL cluster if it is down.
# Outside CI an unreachable PostgreSQL only skips those tests, with a notice;
# with CI=true it is an error.
set -euo pipefail
cd "$(dirname "$0")/.."

export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

postgres_up() {
    (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
}

ensure_postgres() {
    postgres_up && return 0
    if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null; then
        echo "PostgreSQL is down: starting the local cluster" >&2
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
        for _ in $(seq 1 30); do
            postgres_up && return 0
            sleep 1
        done
    fi
    return 1
}

if ! ensure_postgres; then
    if [ "${CI:-}" = "true" ]; then
        echo "error: PostgreSQL on 127.0.0.1:5432 is required in CI and could not be started" >&2
        exit 1
    fi
    echo "NOTICE: PostgreSQL is not reachable; its tests will be skipped" >&2
fi

cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked "$@"
# The OpenAPI document: validated, and turned into a Python and a TypeScript client
# whose types must be as exact as the server (scripts/openapi-check.sh).
bash scripts/openapi-check.sh
# EdDSA, ES256 and RS256 tokens verified from the JWKS by an independent JWT library
# (PyJWT), before and after a rotation (scripts/jwks-check.sh).
bash scripts/jwks-check.sh
# API fuzzing of a release build against its own /openapi.json (schemathesis).
# TEST_SKIP_FUZZ=1 skips it for a quick local run; CI always runs it.
if [ "${TEST_SKIP_FUZZ:-0}" = "1" ] && [ "${CI:-}" != "true" ]; then
    echo "NOTICE: TEST_SKIP_FUZZ=1: schemathesis not run" >&2
else
    bash scripts/fuzz.sh
fi
