#!/usr/bin/env python3
"""Latency of turnstile's admin API on a seeded database, for scripts/bench-admin.sh.

Standard library only. One persistent HTTP/1.1 connection (keep-alive, TCP_NODELAY),
requests one at a time; each sample is the client-measured wall time of one request
(send to last byte of the body read), with time.perf_counter. Every call gets a few
warm-up requests first, then --repeat measured ones. Prints a markdown table on
stdout; progress goes to stderr.

Exit status: 0 when everything ran (a slow call, or a non-200 status, is a result
that the table shows, not an error); 1 when the admin cannot log in or the server
goes away.
"""

import argparse
import collections
import datetime
import http.client
import json
import math
import os
import socket
import sys
import time
import urllib.parse

# Tokens are renewed (with /auth/refresh, outside any measurement) after this long;
# access tokens live 900 s by default.
TOKEN_MAX_AGE_S = 600


def log(msg):
    print(f"[bench-admin {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Client:
    """One keep-alive connection; reconnects (and counts it) if the server closes it."""

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None
        self.reconnects = 0

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self, method, path, body=None, token=None):
        """(status, parsed JSON or raw bytes, seconds)."""
        headers = {"Accept": "application/json"}
        data = None
        if token:
            headers["Authorization"] = "Bearer " + token
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            try:
                t0 = time.perf_counter()
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                dt = time.perf_counter() - t0
            except (http.client.RemoteDisconnected, http.client.BadStatusLine,
                    BrokenPipeError, ConnectionResetError):
                self.conn.close()
                self.conn = None
                self.reconnects += 1
                if attempt:
                    raise
                continue
            if (resp.getheader("Connection") or "").lower() == "close":
                self.conn.close()
                self.conn = None
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw
            return resp.status, parsed, dt
        raise AssertionError("unreachable")


class Account:
    """Tokens of one account, renewed before they can expire mid-run."""

    def __init__(self, client, email, password):
        self.client, self.email, self.password = client, email, password
        self.access = self.refresh = None
        self.at = 0.0

    def login(self):
        status, body, _ = self.client.request(
            "POST", "/auth/login", {"email": self.email, "password": self.password})
        if status != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise SystemExit(f"login as {self.email}: HTTP {status} {body!r}")
        self.take(body)

    def take(self, body):
        self.access, self.refresh = body["access_token"], body["refresh_token"]
        self.at = time.monotonic()

    def token(self):
        if time.monotonic() - self.at > TOKEN_MAX_AGE_S:
            status, body, _ = self.client.request(
                "POST", "/auth/refresh", {"refresh_token": self.refresh})
            if status == 200:
                self.take(body)
            else:
                log(f"refresh of {self.email} answered {status}; logging in again")
                self.login()
        return self.access


def pct(sorted_samples, p):
    """Nearest-rank percentile."""
    if not sorted_samples:
        return float("nan")
    k = max(1, math.ceil(p / 100 * len(sorted_samples)))
    return sorted_samples[k - 1]


class Bench:
    def __init__(self, args):
        self.args = args
        self.rows = []

    def measure(self, label, fn, repeat, target_ms=None, note=None):
        """fn() -> (status, body, seconds). note(body) -> text for the last body."""
        a = self.args
        log(f"{label}: {a.warmup} warm-up + {repeat} measured")
        body = None
        for _ in range(a.warmup):
            _, body, _ = fn()
        samples, statuses = [], collections.Counter()
        started = time.monotonic()
        cut = False
        for i in range(repeat):
            status, body, dt = fn()
            samples.append(dt * 1000)
            statuses[status] += 1
            if (a.budget > 0 and i + 1 < repeat and i + 1 >= a.min_samples
                    and time.monotonic() - started > a.budget):
                cut = True
                break
        samples.sort()
        p50, p99 = pct(samples, 50), pct(samples, 99)
        if set(statuses) == {200}:
            status_text = "200"
        else:
            status_text = "**" + ", ".join(
                f"{s} x{n}" for s, n in sorted(statuses.items())) + "** (not 200!)"
        if target_ms is None:
            verdict = "-"
        elif set(statuses) != {200}:
            verdict = "FAIL (status)"
        else:
            verdict = "pass" if p99 <= target_ms else "FAIL"
        n_text = str(len(samples)) + (" (time budget)" if cut else "")
        text = ""
        if note is not None:
            try:
                text = note(body)
            except Exception as e:  # a surprising body is shown, not fatal
                text = f"unexpected body: {str(body)[:80]!r} ({e})"
        if set(statuses) != {200} and isinstance(body, dict):
            text = (text + " " if text else "") + "last body: " + json.dumps(body)[:120]
        self.rows.append((label, f"{p50:.2f}", f"{p99:.2f}", status_text, n_text, verdict, text))
        log(f"  p50 {p50:.2f} ms, p99 {p99:.2f} ms, status {status_text}, max {samples[-1]:.2f} ms")
        return body

    def skip(self, label, why):
        log(f"{label}: {why}")
        self.rows.append((label, "-", "-", "-", "0", "-", why))


def page_note(body):
    items = body.get("items") or []
    return f"total={body.get('total')} items={len(items)}"


def cpu_snapshot(server_pid, count_postgres):
    """Busy and stolen ticks of the machine, the server's, this process's and
    (PostgreSQL backend) every postgres process's ticks."""
    with open("/proc/stat") as f:
        parts = f.readline().split()
    vals = [int(x) for x in parts[1:]]
    busy = vals[0] + vals[1] + vals[2] + vals[5] + vals[6]
    steal = vals[7] if len(vals) > 7 else 0

    def proc_ticks(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            return int(rest[11]) + int(rest[12])
        except (OSError, IndexError, ValueError):
            return 0

    pg = 0
    if count_postgres:
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/comm") as f:
                    if f.read().strip() != "postgres":
                        continue
            except OSError:
                continue
            pg += proc_ticks(d)
    return (busy, steal, proc_ticks(server_pid), proc_ticks(os.getpid()), pg, time.monotonic())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--admin-email", required=True)
    ap.add_argument("--admin-password-env", required=True,
                    help="name of the environment variable holding the admin password")
    ap.add_argument("--user-email", required=True, help="a seeded, enabled account")
    ap.add_argument("--user-password", required=True)
    ap.add_argument("--mid-user-id", type=int, required=True)
    ap.add_argument("--actor-id", type=int, required=True)
    ap.add_argument("--target-id", type=int, required=True)
    ap.add_argument("--users-deep-page", type=int, required=True)
    ap.add_argument("--audit-deep-page", type=int, required=True)
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--login-repeat", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--cursor-hops", type=int, default=50)
    ap.add_argument("--target-ms", type=float, default=20.0)
    ap.add_argument("--budget", type=float, default=0,
                    help="stop a call's repeats after this many seconds (0: never)")
    ap.add_argument("--min-samples", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--server-pid", type=int, default=0)
    ap.add_argument("--expect-users", type=int, default=0,
                    help="users in the database: stats' users_total is checked against it")
    ap.add_argument("--postgres", action="store_true",
                    help="count postgres processes' CPU separately")
    a = ap.parse_args()

    u = urllib.parse.urlsplit(a.base)
    client = Client(u.hostname, u.port, a.timeout)
    bench = Bench(a)
    target = a.target_ms
    q = urllib.parse.quote

    admin = Account(client, a.admin_email, os.environ[a.admin_password_env])
    admin.login()
    log(f"logged in as {a.admin_email}")

    def get(path, account=None):
        acc = account or admin
        return lambda: client.request("GET", path, token=acc.token())

    snap0 = cpu_snapshot(a.server_pid, a.postgres) if a.server_pid else None

    # ------------------------------------------------------------ users
    first_users = bench.measure("GET /api/admin/users?page=1",
                                get("/api/admin/users?page=1"), a.repeat, target, page_note)
    bench.measure(f"GET /api/admin/users?page={a.users_deep_page}",
                  get(f"/api/admin/users?page={a.users_deep_page}"), a.repeat, target, page_note)
    for term in ("user4242", "ser42", "example"):
        bench.measure(f"GET /api/admin/users?q={term}",
                      get(f"/api/admin/users?q={q(term)}"), a.repeat, target, page_note)
    bench.measure("GET /api/admin/users?role=admin",
                  get("/api/admin/users?role=admin"), a.repeat, target, page_note)
    bench.measure(f"GET /api/admin/users/{a.mid_user_id}",
                  get(f"/api/admin/users/{a.mid_user_id}"), a.repeat, target,
                  lambda b: f"email={b.get('email')} role={b.get('role')}")

    # ------------------------------------------------------------ audit
    first_audit = bench.measure("GET /api/admin/audit?page=1",
                                get("/api/admin/audit?page=1"), a.repeat, target, page_note)
    bench.measure(f"GET /api/admin/audit?page={a.audit_deep_page}",
                  get(f"/api/admin/audit?page={a.audit_deep_page}"), a.repeat, target, page_note)
    bench.measure("GET /api/admin/audit?action=logout",
                  get("/api/admin/audit?action=logout"), a.repeat, target, page_note)
    bench.measure(f"GET /api/admin/audit?actor_id={a.actor_id}",
                  get(f"/api/admin/audit?actor_id={a.actor_id}"), a.repeat, target, page_note)
    bench.measure(f"GET /api/admin/audit?target_id={a.target_id}",
                  get(f"/api/admin/audit?target_id={a.target_id}"), a.repeat, target, page_note)
    since = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=30)) \
        .replace(microsecond=0).isoformat()  # e.g. 2026-11-01T08:00:00+00:00
    bench.measure(f"GET /api/admin/audit?since={since} (30 days)",
                  get(f"/api/admin/audit?since={q(since, safe='')}"), a.repeat, target, page_note)

    def stats_note(b):
        text = " ".join(f"{k}={v}" for k, v in b.items())
        if a.expect_users and b.get("users_total") != a.expect_users:
            text += f" **users_total is not the {a.expect_users} users in the table!**"
        return text

    bench.measure("GET /api/admin/stats", get("/api/admin/stats"), a.repeat, target, stats_note)

    # ------------------------------------------------------------ cursors
    for name, path, first in (("users", "/api/admin/users", first_users),
                              ("audit", "/api/admin/audit", first_audit)):
        label = f"GET {path}?cursor=<{a.cursor_hops} pages deep>"
        if not isinstance(first, dict) or "next_cursor" not in first:
            print(f"cursor: not supported yet ({name}: no next_cursor in the first page)",
                  file=sys.stderr)
            bench.skip(label, "cursor: not supported yet")
            continue
        cursor = first.get("next_cursor")
        hops = 0
        while cursor and hops < a.cursor_hops:
            status, body, _ = client.request(
                "GET", f"{path}?cursor={q(str(cursor), safe='')}", token=admin.token())
            if status != 200 or not isinstance(body, dict):
                break
            hops += 1
            cursor = body.get("next_cursor")
        if not cursor:
            bench.skip(label, f"cursor chain ended after {hops} hops (last status {status})"
                       if hops else "next_cursor is null on the first page")
            continue
        label = f"GET {path}?cursor=<{hops} pages deep>"
        bench.measure(label, get(f"{path}?cursor={q(str(cursor), safe='')}"), a.repeat,
                      target, page_note)

    # ------------------------------------------------------------ a user's calls
    user = Account(client, a.user_email, a.user_password)
    creds = {"email": a.user_email, "password": a.user_password}

    def login():
        status, body, dt = client.request("POST", "/auth/login", creds)
        if status == 200:
            user.take(body)
        return status, body, dt

    bench.measure("POST /auth/login (bcrypt)", login, a.login_repeat, None,
                  lambda b: f"user={b['user']['email']}")

    def refresh():
        status, body, dt = client.request("POST", "/auth/refresh",
                                          {"refresh_token": user.refresh})
        if status == 200:
            user.take(body)
        return status, body, dt

    bench.measure("POST /auth/refresh (rotating)", refresh, a.repeat, None)
    bench.measure("GET /api/profile (user token)", get("/api/profile", user), a.repeat, None,
                  lambda b: f"email={b.get('email')}")

    # ------------------------------------------------------------ report
    cpu_line = ""
    if snap0:
        s1 = cpu_snapshot(a.server_pid, a.postgres)
        hz = os.sysconf("SC_CLK_TCK")
        wall = s1[5] - snap0[5]
        c = [(s1[i] - snap0[i]) / hz / wall for i in range(5)]
        other = c[0] - c[2] - c[3] - c[4]
        cpu_line = (f"CPU during the measurement ({wall:.0f} s, {os.cpu_count()} cores): "
                    f"machine busy {c[0]:.2f} cores = server {c[2]:.2f} + client {c[3]:.2f}"
                    + (f" + postgres processes {c[4]:.2f}" if a.postgres else "")
                    + f" + everything else {other:.2f}; stolen {c[1]:.2f}")
        if other > 0.2 or c[1] > 0.2:
            cpu_line += "\nWARNING: something else was using the CPU: latencies are disturbed"

    out = sys.stdout
    out.write(f"| call | p50 ms | p99 ms | status | n | p99 <= {target:g} ms | notes |\n")
    out.write("|---|---:|---:|---|---:|---|---|\n")
    for r in bench.rows:
        out.write("| " + " | ".join(x.replace("|", "\\|") for x in r) + " |\n")
    if cpu_line:
        out.write("\n" + cpu_line + "\n")
    if client.reconnects:
        out.write(f"(the connection was re-opened {client.reconnects} time(s))\n")
    out.flush()


if __name__ == "__main__":
    try:
        main()
    except (ConnectionError, http.client.HTTPException, socket.timeout) as e:
        log(f"error: the server did not answer: {e!r}")
        sys.exit(1)
