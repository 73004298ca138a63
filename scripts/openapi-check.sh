#!/usr/bin/env bash
# The OpenAPI document, as real client developers meet it. Fails when:
#   - openapi-spec-validator rejects the document;
#   - openapi-python-client cannot generate a client from it, warns while doing so, or
#     the client it makes cannot parse what the server sends (scripts/openapi/check_client.py);
#   - openapi-typescript cannot generate types from it, or `tsc --strict` rejects
#     scripts/openapi/check.ts, which asserts that the types are as exact as the server
#     (required fields, nullability, fixed sets, $ref'd page items, the optional
#     logout body) with openapi-fetch calls and `@ts-expect-error` lines.
#
#   bash scripts/openapi-check.sh
#
# Tools are pinned (scripts/openapi/requirements.txt, package.json + package-lock.json)
# and installed once under target/openapi-tools; the document and the generated
# clients go to target/openapi-check.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT="$PWD"
TOOLS="$ROOT/target/openapi-tools"
OUT="$ROOT/target/openapi-check"
SPEC="$OUT/openapi.json"
mkdir -p "$TOOLS" "$OUT"

log() { printf '[openapi-check] %s\n' "$*" >&2; }

# ------------------------------------------------------------------ tools
VENV="$TOOLS/venv"
if ! cmp -s scripts/openapi/requirements.txt "$VENV/.requirements" 2>/dev/null; then
    log "installing the Python tools"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/openapi/requirements.txt
    cp scripts/openapi/requirements.txt "$VENV/.requirements"
fi
NODE="$TOOLS/node"
if ! cmp -s scripts/openapi/package-lock.json "$NODE/package-lock.json" 2>/dev/null; then
    log "installing the npm tools"
    rm -rf "$NODE"
    mkdir -p "$NODE"
    cp scripts/openapi/package.json scripts/openapi/package-lock.json "$NODE/"
    (cd "$NODE" && npm ci --silent --no-audit --no-fund)
fi

# ------------------------------------------------------------------ the document
log "writing the document (turnstile openapi)"
cargo run --quiet --locked --bin turnstile -- openapi > "$SPEC"

log "validating it (openapi-spec-validator)"
"$VENV/bin/openapi-spec-validator" "$SPEC"

# ------------------------------------------------------------------ Python
log "generating a Python client (openapi-python-client)"
rm -rf "$OUT/python"
GEN_LOG="$OUT/python-generate.log"
PATH="$VENV/bin:$PATH" "$VENV/bin/openapi-python-client" generate \
    --path "$SPEC" --output-path "$OUT/python" --overwrite > "$GEN_LOG" 2>&1 \
    || { cat "$GEN_LOG" >&2; exit 1; }
if grep -qiE "warning|error|will not be generated" "$GEN_LOG"; then
    cat "$GEN_LOG" >&2
    log "error: the Python client was generated with warnings"
    exit 1
fi
"$VENV/bin/python" scripts/openapi/check_client.py "$OUT/python"

# ------------------------------------------------------------------ TypeScript
log "generating TypeScript types (openapi-typescript) and type-checking check.ts (tsc --strict)"
TS="$OUT/typescript"
rm -rf "$TS"
mkdir -p "$TS/generated"
cp scripts/openapi/check.ts scripts/openapi/tsconfig.json "$TS/"
ln -s "$NODE/node_modules" "$TS/node_modules"
"$NODE/node_modules/.bin/openapi-typescript" "$SPEC" -o "$TS/generated/schema.d.ts" >/dev/null
(cd "$TS" && ./node_modules/.bin/tsc -p tsconfig.json)

log "ok: valid, and both generated clients are exact"
