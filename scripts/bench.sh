#!/usr/bin/env bash
# Load test of a release build of turnstile with wrk, on loopback only.
#
#   bash scripts/bench.sh                      # build, then measure (about 1 minute)
#   BENCH_SKIP_BUILD=1 bash scripts/bench.sh   # reuse target/release/turnstile
#
# One run, on a fresh SQLite database in a temporary folder (APP_ENV=production,
# bcrypt cost 12, metrics on a private loopback port):
#   1. steady state: wrk on GET /health, then on an authenticated GET /api/profile
#      (database calls per authenticated request read from /metrics around the run);
#   2. login storm: wrk hammering POST /auth/login with correct credentials while two
#      light wrk probes measure /health and /api/profile latency; logins/s compared
#      with the bcrypt bound nproc / single-hash time, measured in the same run on
#      the idle server;
#   3. the server's peak RSS (VmHWM).
# Prints a table of metric / measured / target / pass-fail. Missing a target is a
# result, not an error: the script exits 0. It exits non-zero only if something
# fails to run. Results: docs/BENCHMARKS.md.
#
# Knobs (environment): BENCH_SKIP_BUILD=1; BENCH_DURATION (steady-state runs, s,
# default 10); BENCH_STORM_DURATION (default 15); BENCH_PROBE_DURATION (default 10);
# BENCH_PROBE_PAUSE_MS (pause between a probe connection's requests, default 0 =
# closed loop); BENCH_ALGORITHM (APP__AUTH__SIGNING_ALGORITHM: HS256, the default,
# EdDSA, ES256 or RS256); BENCH_KEEP=DIR (copy the raw wrk outputs and server log there).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LUA_DIR="$ROOT/scripts/bench"
BIN="$ROOT/target/release/turnstile"

DURATION="${BENCH_DURATION:-10}"
STORM_DURATION="${BENCH_STORM_DURATION:-15}"
PROBE_DURATION="${BENCH_PROBE_DURATION:-10}"
PROBE_PAUSE_MS="${BENCH_PROBE_PAUSE_MS:-0}"
ALGORITHM="${BENCH_ALGORITHM:-HS256}"
# The probes start this long after the storm, once the bcrypt queue is full.
PROBE_OFFSET=2
if (( PROBE_OFFSET + PROBE_DURATION > STORM_DURATION )); then
    echo "bench: the probes ($PROBE_OFFSET s + $PROBE_DURATION s) must end within the storm ($STORM_DURATION s)" >&2
    exit 2
fi

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- tools
for tool in curl python3 awk; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
if ! command -v wrk >/dev/null; then
    log "wrk is missing: installing it with apt-get"
    command -v apt-get >/dev/null || die "wrk is missing and apt-get is not available"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get install -y -q wrk >/dev/null 2>&1 \
        || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q wrk >/dev/null; } \
        || die "could not install wrk"
fi

# ---------------------------------------------------------------- cleanup
WORK="$(mktemp -d "${TMPDIR:-/tmp}/turnstile-bench.XXXXXX")"
SERVER_PID=""
BG_PIDS=()

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    for pid in "${BG_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "${BENCH_KEEP:-}" ]; then
        mkdir -p "$BENCH_KEEP" && cp -r "$WORK"/*.txt "$WORK"/*.log "$BENCH_KEEP"/ 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build
if [ "${BENCH_SKIP_BUILD:-0}" != "1" ]; then
    log "cargo build --release --locked"
    (cd "$ROOT" && cargo build --release --locked)
fi
[ -x "$BIN" ] || die "$BIN not found (build it, or unset BENCH_SKIP_BUILD)"

# ---------------------------------------------------------------- helpers
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# The value of one sample line of the Prometheus text, e.g. metric 'turnstile_db_calls_total'
# or 'turnstile_logins_total{outcome="success"}'; 0 when absent (counter never touched).
metric() {
    local text=$1 name=$2
    awk -v n="$name" '$1 == n { print $2; found = 1; exit } END { if (!found) print 0 }' <<<"$text"
}

scrape() {
    curl -fsS --max-time 5 "http://127.0.0.1:$METRICS_PORT/metrics"
}

# key=value from a BENCH_RESULT / BENCH_LOGINS line of a wrk output file.
field() {
    local file=$1 tag=$2 key=$3
    local line
    line="$(grep -m1 "^$tag " "$file")" || die "no $tag line in $file (wrk failed?): $(tail -n 5 "$file")"
    tr ' ' '\n' <<<"$line" | awk -F= -v k="$key" '$1 == k { print $2; found = 1 } END { if (!found) exit 1 }' \
        || die "no $key in $tag of $file"
}

# wrk with a hard wall-clock bound on top of its own -d.
run_wrk() {
    local out=$1 seconds=$2
    shift 2
    timeout --kill-after=5 "$((seconds + 60))" wrk "$@" >"$out" 2>&1 \
        || die "wrk failed: $*: $(tail -n 5 "$out")"
}

# CPU time (clock ticks) used so far by the server: the whole process ('.', which
# includes threads that have exited), or its threads whose name matches the bash
# regex $1 (e.g. '^bcrypt-'). Builtins only, so it is quick.
cpu_ticks() {
    local pattern=$1 total=0 tid comm stat rest
    if [ "$pattern" = . ]; then
        read -r stat <"/proc/$SERVER_PID/stat"
        rest="${stat##*) }"
        # shellcheck disable=SC2086
        set -- $rest
        echo $((${12} + ${13}))
        return
    fi
    for tid in /proc/"$SERVER_PID"/task/*; do
        read -r comm <"$tid/comm" 2>/dev/null || continue
        [[ $comm =~ $pattern ]] || continue
        read -r stat <"$tid/stat" 2>/dev/null || continue
        rest="${stat##*) }"
        # shellcheck disable=SC2086
        set -- $rest
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

fmt() { awk -v x="$1" -v d="${2:-1}" 'BEGIN { printf "%.*f", d, x }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.2f", us / 1000 }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
verdict() { if "$@"; then echo pass; else echo FAIL; fi; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# Busy CPU ticks of the whole machine (user, nice, system, irq, softirq).
sys_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat; }
# Ticks stolen by the hypervisor (a virtual machine's host was busy elsewhere).
steal_ticks() { awk '$1 == "cpu" { print $9; exit }' /proc/stat; }
# CPU ticks used by this shell's finished children (wrk, curl), from `times`, which
# must run in this shell (not in a pipe or $(...)). Sets CHILD_TICKS.
child_ticks() {
    times >"$WORK/times.txt"
    CHILD_TICKS="$(awk -v hz="$CLK_TCK" 'NR == 2 {
        split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%d", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * hz }' "$WORK/times.txt")"
}
# snap VAR: "machine server children time" into VAR, for other_cores.
snap() {
    child_ticks
    printf -v "$1" '%s %s %s %s %s' "$(sys_ticks)" "$(cpu_ticks '.')" "$CHILD_TICKS" "$(date +%s.%N)" "$(steal_ticks)"
}
# Cores used by everything else (other processes, plus interrupt time not charged to
# a process) between two snapshots: the machine's busy time minus the server's and
# this script's children's. Well above ~0.1 means someone else was busy.
other_cores() {
    awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        other = (y[1] - x[1]) - (y[2] - x[2]) - (y[3] - x[3])
        printf "%.2f", other / hz / (y[4] - x[4]) }'
}
# Cores stolen by the hypervisor between two snapshots.
steal_cores() {
    awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" 'BEGIN {
        split(a, x, " "); split(b, y, " ")
        printf "%.2f", (y[5] - x[5]) / hz / (y[4] - x[4]) }'
}

# ---------------------------------------------------------------- server
PASSWORD="bench-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
USER_EMAIL="bench@example.com"
STORM_EMAIL="storm@example.com"
METRICS_PORT="$(free_port)"
CLK_TCK="$(getconf CLK_TCK)"
NPROC="$(nproc)"

log "starting $BIN ($ALGORITHM, database in $WORK, metrics on 127.0.0.1:$METRICS_PORT)"
: >"$WORK/server.stdout.log"
: >"$WORK/server.stderr.log"
(
    cd "$WORK"
    exec env \
        APP_ENV=production \
        APP_CONFIG_DIR="$ROOT/config" \
        APP__SERVER__HOST=127.0.0.1 \
        APP__SERVER__PORT=0 \
        APP__SERVER__SHUTDOWN_TIMEOUT_SECS=5 \
        APP__DATABASE__URL="sqlite://$WORK/turnstile.db" \
        APP__AUTH__JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" \
        APP__AUTH__BCRYPT_COST=12 \
        APP__AUTH__SIGNING_ALGORITHM="$ALGORITHM" \
        APP__AUTH__LOGIN_MAX_FAILURES=1000000000 \
        APP__METRICS__ENABLED=true \
        APP__METRICS__HOST=127.0.0.1 \
        APP__METRICS__PORT="$METRICS_PORT" \
        RUST_LOG=warn \
        "$BIN" serve >"$WORK/server.stdout.log" 2>"$WORK/server.stderr.log"
) &
SERVER_PID=$!

PORT=""
for _ in $(seq 1 300); do
    kill -0 "$SERVER_PID" 2>/dev/null \
        || die "the server exited: $(tail -n 20 "$WORK/server.stderr.log")"
    PORT="$(sed -n 's#^listening on http://127\.0\.0\.1:\([0-9][0-9]*\)$#\1#p' "$WORK/server.stdout.log" | head -n 1)"
    [ -n "$PORT" ] && break
    sleep 0.1
done
[ -n "$PORT" ] || die "no 'listening on' line within 30 s"
BASE="http://127.0.0.1:$PORT"
curl -fsS --max-time 5 "$BASE/health" >/dev/null || die "GET /health failed"
scrape >/dev/null || die "GET /metrics on 127.0.0.1:$METRICS_PORT failed"
log "server pid $SERVER_PID listening on $BASE"

# ---------------------------------------------------------------- accounts
post_json() {
    curl -sS --max-time 30 -o "$WORK/body.json" -w '%{http_code} %{time_total}\n' \
        -X POST "$BASE$1" -H 'Content-Type: application/json' -d "$2"
}
creds() { printf '{"email":"%s","password":"%s"}' "$1" "$PASSWORD"; }

for email in "$USER_EMAIL" "$STORM_EMAIL"; do
    read -r code _ < <(post_json /auth/register "$(creds "$email")")
    [ "$code" = 201 ] || [ "$code" = 200 ] || die "register $email: HTTP $code $(cat "$WORK/body.json")"
done
read -r code _ < <(post_json /auth/login "$(creds "$USER_EMAIL")")
[ "$code" = 200 ] || die "login: HTTP $code $(cat "$WORK/body.json")"
TOKEN="$(sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p' "$WORK/body.json")"
[ -n "$TOKEN" ] || die "no access_token in the login answer"
AUTH="Authorization: Bearer $TOKEN"
code="$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$BASE/api/profile" -H "$AUTH")"
[ "$code" = 200 ] || die "GET /api/profile with the token: HTTP $code"

# ---------------------------------------------------------------- single-hash time
# Sequential logins of the storm account on the idle server. Wall time (curl) is the
# whole login: bcrypt verify plus ~2 small SQLite transactions and HTTP. The bcrypt
# threads' own CPU time over the same logins is the hash alone (cross-check).
HASH_SAMPLES=5
log "single-hash time: $HASH_SAMPLES sequential logins on the idle server"
read -r code _ < <(post_json /auth/login "$(creds "$STORM_EMAIL")") # warm-up
[ "$code" = 200 ] || die "login $STORM_EMAIL: HTTP $code"
bcrypt_before="$(cpu_ticks '^bcrypt-')"
hash_times=()
for _ in $(seq 1 "$HASH_SAMPLES"); do
    read -r code t < <(post_json /auth/login "$(creds "$STORM_EMAIL")")
    [ "$code" = 200 ] || die "login $STORM_EMAIL: HTTP $code"
    hash_times+=("$t")
done
bcrypt_after="$(cpu_ticks '^bcrypt-')"
HASH_WALL_S="$(printf '%s\n' "${hash_times[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"
HASH_CPU_S="$(awk -v t=$((bcrypt_after - bcrypt_before)) -v hz="$CLK_TCK" -v n="$HASH_SAMPLES" 'BEGIN { printf "%.4f", t / hz / n }')"
BOUND="$(awk -v c="$NPROC" -v t="$HASH_WALL_S" 'BEGIN { printf "%.2f", c / t }')"
log "login wall times: ${hash_times[*]} s; median $HASH_WALL_S s; bcrypt CPU per login $HASH_CPU_S s; bound $BOUND logins/s"

# ---------------------------------------------------------------- 1. steady state
LOAD_STEADY="$(load)"
snap SNAP_STEADY
log "load average before the steady-state runs: $LOAD_STEADY"
log "wrk GET /health: 2 threads, 64 connections, ${DURATION}s"
cpu0="$(cpu_ticks '.')"
child_ticks; wrk0=$CHILD_TICKS
run_wrk "$WORK/health.txt" "$DURATION" -t2 -c64 -d"${DURATION}s" --latency \
    -s "$LUA_DIR/report.lua" "$BASE/health"
cpu1="$(cpu_ticks '.')"
child_ticks; wrk1=$CHILD_TICKS
HEALTH_WRK_CORES="$(awk -v t=$((wrk1 - wrk0)) -v hz="$CLK_TCK" -v us="$(field "$WORK/health.txt" BENCH_RESULT duration_us)" 'BEGIN { printf "%.2f", t / hz / (us / 1e6) }')"
HEALTH_CORES="$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v us="$(field "$WORK/health.txt" BENCH_RESULT duration_us)" 'BEGIN { printf "%.2f", t / hz / (us / 1e6) }')"
HEALTH_RPS="$(field "$WORK/health.txt" BENCH_RESULT rps)"
HEALTH_P99="$(field "$WORK/health.txt" BENCH_RESULT p99_us)"
HEALTH_ERR="$(field "$WORK/health.txt" BENCH_RESULT status_errors)"

# One request first, so the run starts with the auth cache filled (steady state).
curl -fsS --max-time 5 -o /dev/null "$BASE/api/profile" -H "$AUTH" || die "GET /api/profile failed"
before="$(scrape)"
log "wrk GET /api/profile: 2 threads, 64 connections, ${DURATION}s"
cpu0="$(cpu_ticks '.')"
child_ticks; wrk0=$CHILD_TICKS
run_wrk "$WORK/profile.txt" "$DURATION" -t2 -c64 -d"${DURATION}s" --latency \
    -H "$AUTH" -s "$LUA_DIR/report.lua" "$BASE/api/profile"
cpu1="$(cpu_ticks '.')"
child_ticks; wrk1=$CHILD_TICKS
after="$(scrape)"
PROFILE_WRK_CORES="$(awk -v t=$((wrk1 - wrk0)) -v hz="$CLK_TCK" -v us="$(field "$WORK/profile.txt" BENCH_RESULT duration_us)" 'BEGIN { printf "%.2f", t / hz / (us / 1e6) }')"
PROFILE_CORES="$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v us="$(field "$WORK/profile.txt" BENCH_RESULT duration_us)" 'BEGIN { printf "%.2f", t / hz / (us / 1e6) }')"
PROFILE_RPS="$(field "$WORK/profile.txt" BENCH_RESULT rps)"
PROFILE_P99="$(field "$WORK/profile.txt" BENCH_RESULT p99_us)"
PROFILE_REQS="$(field "$WORK/profile.txt" BENCH_RESULT requests)"
PROFILE_ERR="$(field "$WORK/profile.txt" BENCH_RESULT status_errors)"
DB_CALLS=$(( $(metric "$after" turnstile_db_calls_total) - $(metric "$before" turnstile_db_calls_total) ))
HITS=$(( $(metric "$after" turnstile_auth_cache_hits_total) - $(metric "$before" turnstile_auth_cache_hits_total) ))
MISSES=$(( $(metric "$after" turnstile_auth_cache_misses_total) - $(metric "$before" turnstile_auth_cache_misses_total) ))
HIT_RATIO_SINCE_START="$(metric "$after" turnstile_auth_cache_hit_ratio)"
DB_PER_REQ="$(awk -v c="$DB_CALLS" -v n="$PROFILE_REQS" 'BEGIN { printf "%.6f", (n > 0 ? c / n : 0) }')"
RATIO="$(awk -v p="$PROFILE_RPS" -v h="$HEALTH_RPS" 'BEGIN { printf "%.1f", 100 * p / h }')"
(( HEALTH_ERR == 0 && PROFILE_ERR == 0 )) \
    || die "error answers in the steady-state runs (health $HEALTH_ERR, profile $PROFILE_ERR)"

# ---------------------------------------------------------------- 2. login storm
snap SNAP_NOW
OTHER_STEADY="$(other_cores "$SNAP_STEADY" "$SNAP_NOW")"
STEAL_STEADY="$(steal_cores "$SNAP_STEADY" "$SNAP_NOW")"
LOAD_STORM="$(load)"
snap SNAP_STORM
log "load average before the storm: $LOAD_STORM"
log "login storm: POST /auth/login, 2 threads, 64 connections, ${STORM_DURATION}s;" \
    "probes (1 thread, 4 connections, ${PROBE_DURATION}s, pause ${PROBE_PAUSE_MS} ms) from +${PROBE_OFFSET}s"
before="$(scrape)"
cpu_all_before="$(cpu_ticks '.')"
cpu_bcrypt_before="$(cpu_ticks '^bcrypt-')"
storm_start="$(date +%s.%N)"
# Generous timeout: with 64 logins in flight each one waits ~64 hash times.
timeout --kill-after=5 "$((STORM_DURATION + 60))" \
    wrk -t2 -c64 -d"${STORM_DURATION}s" --latency --timeout 60s \
    -s "$LUA_DIR/login.lua" "$BASE/auth/login" -- "$STORM_EMAIL" "$PASSWORD" \
    >"$WORK/storm.txt" 2>&1 &
STORM_PID=$!
BG_PIDS+=("$STORM_PID")
sleep "$PROBE_OFFSET"
kill -0 "$STORM_PID" 2>/dev/null || die "the storm's wrk ended early: $(tail -n 5 "$WORK/storm.txt")"
LOGIN_METRIC='turnstile_logins_total{outcome="success"}'
m="$(scrape)"
depth_at_probe="$(metric "$m" turnstile_bcrypt_queue_depth)"
logins_probe_start="$(metric "$m" "$LOGIN_METRIC")"
probes_start="$(date +%s.%N)"
timeout --kill-after=5 "$((PROBE_DURATION + 60))" \
    wrk -t1 -c4 -d"${PROBE_DURATION}s" --latency -s "$LUA_DIR/report.lua" "$BASE/health" \
    -- "$PROBE_PAUSE_MS" >"$WORK/storm-health.txt" 2>&1 &
PROBE_H=$!
timeout --kill-after=5 "$((PROBE_DURATION + 60))" \
    wrk -t1 -c4 -d"${PROBE_DURATION}s" --latency -H "$AUTH" -s "$LUA_DIR/report.lua" \
    "$BASE/api/profile" -- "$PROBE_PAUSE_MS" >"$WORK/storm-profile.txt" 2>&1 &
PROBE_P=$!
BG_PIDS+=("$PROBE_H" "$PROBE_P")
wait "$PROBE_H" || die "health probe failed: $(tail -n 5 "$WORK/storm-health.txt")"
wait "$PROBE_P" || die "profile probe failed: $(tail -n 5 "$WORK/storm-profile.txt")"
probes_end="$(date +%s.%N)"
logins_probe_end="$(metric "$(scrape)" "$LOGIN_METRIC")"
wait "$STORM_PID" || die "storm wrk failed: $(tail -n 5 "$WORK/storm.txt")"
storm_end="$(date +%s.%N)"
after="$(scrape)"
cpu_all_after="$(cpu_ticks '.')"
cpu_bcrypt_after="$(cpu_ticks '^bcrypt-')"
snap SNAP_NOW
OTHER_STORM="$(other_cores "$SNAP_STORM" "$SNAP_NOW")"
STEAL_STORM="$(steal_cores "$SNAP_STORM" "$SNAP_NOW")"
BG_PIDS=()

STORM_S="$(awk -v us="$(field "$WORK/storm.txt" BENCH_RESULT duration_us)" 'BEGIN { printf "%.2f", us / 1e6 }')"
LOGINS_OK="$(field "$WORK/storm.txt" BENCH_LOGINS ok)"
LOGINS_BUSY="$(field "$WORK/storm.txt" BENCH_LOGINS server_busy)"
LOGINS_UNAVAIL="$(field "$WORK/storm.txt" BENCH_LOGINS service_unavailable)"
LOGINS_LOCKED="$(field "$WORK/storm.txt" BENCH_LOGINS too_many_attempts)"
LOGINS_OTHER="$(field "$WORK/storm.txt" BENCH_LOGINS other)"
LOGINS_NON2XX="$(field "$WORK/storm.txt" BENCH_RESULT status_errors)"
LOGINS_TIMEOUT="$(field "$WORK/storm.txt" BENCH_RESULT timeout)"
LOGIN_P50="$(field "$WORK/storm.txt" BENCH_RESULT p50_us)"
LOGINS_PER_S="$(awk -v n="$LOGINS_OK" -v s="$STORM_S" 'BEGIN { printf "%.2f", n / s }')"
LOGINS_PCT="$(awk -v r="$LOGINS_PER_S" -v b="$BOUND" 'BEGIN { printf "%.1f", 100 * r / b }')"
SERVER_LOGINS=$(( $(metric "$after" "$LOGIN_METRIC") - $(metric "$before" "$LOGIN_METRIC") ))
# Server-side login rate while the probes ran, and during the rest of the storm.
RATE_WITH_PROBES="$(awk -v n=$((logins_probe_end - logins_probe_start)) -v a="$probes_start" -v b="$probes_end" 'BEGIN { printf "%.2f", n / (b - a) }')"
RATE_WITHOUT_PROBES="$(awk -v n=$((SERVER_LOGINS - (logins_probe_end - logins_probe_start))) -v a="$probes_start" -v b="$probes_end" -v s="$storm_start" -v e="$storm_end" 'BEGIN { t = (e - s) - (b - a); printf "%.2f", (t > 0 ? n / t : 0) }')"
BCRYPT_NICE="$(ps -L -o ni=,comm= -p "$SERVER_PID" | awk '$2 ~ /^bcrypt-/ { print $1 }' | sort -u | paste -sd, -)"
STORM_WALL="$(awk -v a="$storm_start" -v b="$storm_end" 'BEGIN { printf "%.2f", b - a }')"
CORES_SERVER="$(awk -v t=$((cpu_all_after - cpu_all_before)) -v hz="$CLK_TCK" -v s="$STORM_WALL" 'BEGIN { printf "%.2f", t / hz / s }')"
CORES_BCRYPT="$(awk -v t=$((cpu_bcrypt_after - cpu_bcrypt_before)) -v hz="$CLK_TCK" -v s="$STORM_WALL" 'BEGIN { printf "%.2f", t / hz / s }')"
SH_P99="$(field "$WORK/storm-health.txt" BENCH_RESULT p99_us)"
SH_RPS="$(field "$WORK/storm-health.txt" BENCH_RESULT rps)"
SH_ERR="$(field "$WORK/storm-health.txt" BENCH_RESULT status_errors)"
SP_P99="$(field "$WORK/storm-profile.txt" BENCH_RESULT p99_us)"
SP_RPS="$(field "$WORK/storm-profile.txt" BENCH_RESULT rps)"
SP_ERR="$(field "$WORK/storm-profile.txt" BENCH_RESULT status_errors)"
(( SH_ERR == 0 && SP_ERR == 0 )) \
    || die "error answers from the probes during the storm (health $SH_ERR, profile $SP_ERR)"
awk -v p="$probes_end" -v s="$storm_end" 'BEGIN { exit !(p <= s) }' \
    || die "the probes did not end within the storm"

# ---------------------------------------------------------------- 3. peak RSS
# Let the logins still queued when wrk stopped finish, so the peak includes them.
for _ in $(seq 1 120); do
    [ "$(metric "$(scrape)" turnstile_bcrypt_queue_depth)" = 0 ] && break
    sleep 0.5
done
kill -0 "$SERVER_PID" 2>/dev/null || die "the server died: $(tail -n 20 "$WORK/server.stderr.log")"
HWM_KB="$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$SERVER_PID/status")"
RSS_KB="$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$SERVER_PID/status")"
THREADS="$(awk '$1 == "Threads:" { print $2 }' "/proc/$SERVER_PID/status")"
HWM_MIB="$(awk -v k="$HWM_KB" 'BEGIN { printf "%.1f", k / 1024 }')"
RSS_MIB="$(awk -v k="$RSS_KB" 'BEGIN { printf "%.1f", k / 1024 }')"
LOAD_END="$(load)"
WARNINGS="$(grep -c . "$WORK/server.stderr.log" || true)"

# ---------------------------------------------------------------- report
for f in health profile storm storm-health storm-profile; do
    echo
    echo "== wrk: $f"
    grep -v '^BENCH_' "$WORK/$f.txt"
done

if ! le "$OTHER_STEADY" 0.2 || ! le "$OTHER_STORM" 0.2 || ! le "$STEAL_STEADY" 0.2 || ! le "$STEAL_STORM" 0.2; then
    echo
    echo "WARNING: something else used the CPU during the measurement (see 'CPU used by anything but'"
    echo "WARNING: and 'stolen' below): these numbers are disturbed; rerun on a quiet machine."
fi

cat <<EOF

== turnstile bench, $(date -u +%Y-%m-%dT%H:%M:%SZ)
machine: $NPROC cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)
load average (1/5/15 min): steady-state $LOAD_STEADY | storm $LOAD_STORM | end $LOAD_END
CPU used by anything but the server and wrk: $OTHER_STEADY cores during the steady-state runs, $OTHER_STORM cores during the storm
CPU stolen by the hypervisor: $STEAL_STEADY cores during the steady-state runs, $STEAL_STORM cores during the storm
steady state, 2 threads x 64 connections x ${DURATION}s:
  /health       $(fmt "$HEALTH_RPS") req/s, p99 $(ms "$HEALTH_P99") ms; CPU: server $HEALTH_CORES ($(awk -v c="$HEALTH_CORES" -v r="$HEALTH_RPS" 'BEGIN { printf "%.0f", c / r * 1e6 }') us/request), wrk $HEALTH_WRK_CORES of $NPROC cores
  /api/profile  $(fmt "$PROFILE_RPS") req/s, p99 $(ms "$PROFILE_P99") ms, $PROFILE_REQS requests; CPU: server $PROFILE_CORES ($(awk -v c="$PROFILE_CORES" -v r="$PROFILE_RPS" 'BEGIN { printf "%.0f", c / r * 1e6 }') us/request), wrk $PROFILE_WRK_CORES of $NPROC cores
                db calls during the run: $DB_CALLS; auth cache: $HITS hits, $MISSES misses (ratio since start $HIT_RATIO_SINCE_START)
single-hash time (cost 12): median login $HASH_WALL_S s over $HASH_SAMPLES sequential logins (curl wall); bcrypt CPU per login $HASH_CPU_S s
login storm, 2 threads x 64 connections x ${STORM_S}s (bcrypt queue depth at +${PROBE_OFFSET}s: $depth_at_probe):
  200: $LOGINS_OK  503 server_busy: $LOGINS_BUSY  503 service_unavailable: $LOGINS_UNAVAIL  429: $LOGINS_LOCKED  other: $LOGINS_OTHER  (wrk non-2xx: $LOGINS_NON2XX, timeouts: $LOGINS_TIMEOUT)
  successful logins counted by the server during the storm: $SERVER_LOGINS; login p50 $(ms "$LOGIN_P50") ms
  server-side login rate: $RATE_WITH_PROBES/s while the probes ran, $RATE_WITHOUT_PROBES/s during the rest of the storm
  server CPU during the storm: $CORES_SERVER cores, of which bcrypt threads $CORES_BCRYPT cores (bcrypt thread niceness: $BCRYPT_NICE)
  probes (1 thread x 4 connections x ${PROBE_DURATION}s, pause ${PROBE_PAUSE_MS} ms): /health $(fmt "$SH_RPS") req/s, /api/profile $(fmt "$SP_RPS") req/s
server: VmHWM $HWM_MIB MiB, VmRSS $RSS_MIB MiB, $THREADS threads; $WARNINGS line(s) on stderr (RUST_LOG=warn)

| metric | measured | target | result |
|---|---|---|---|
| /health req/s (steady) | $(fmt "$HEALTH_RPS") | (reference) | - |
| /api/profile req/s (steady) | $(fmt "$PROFILE_RPS") | >= 80% of /health | $(verdict ge "$RATIO" 80) |
| profile / health | ${RATIO}% | >= 80% | $(verdict ge "$RATIO" 80) |
| /health p99 (steady) | $(ms "$HEALTH_P99") ms | - | - |
| /api/profile p99 (steady) | $(ms "$PROFILE_P99") ms | - | - |
| DB calls per authenticated request | $DB_PER_REQ ($DB_CALLS / $PROFILE_REQS) | 0 | $(verdict test "$DB_CALLS" -eq 0) |
| /health p99 during login storm | $(ms "$SH_P99") ms | <= 10 ms | $(verdict le "$SH_P99" 10000) |
| /api/profile p99 during login storm | $(ms "$SP_P99") ms | <= 20 ms | $(verdict le "$SP_P99" 20000) |
| logins/s (200s) during storm | $LOGINS_PER_S | >= 90% of bound | $(verdict ge "$LOGINS_PCT" 90) |
| bcrypt bound nproc / hash time | $BOUND ($NPROC / $HASH_WALL_S s) | (reference) | - |
| logins/s / bound | ${LOGINS_PCT}% | >= 90% | $(verdict ge "$LOGINS_PCT" 90) |
| 503 server_busy during storm | $LOGINS_BUSY | (reported) | - |
| peak RSS (VmHWM) | $HWM_MIB MiB | <= 64 MiB | $(verdict le "$HWM_KB" 65536) |
EOF
