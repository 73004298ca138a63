"""Schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS).

The main pass authenticates every request with one admin access token (`-H
Authorization`). A few requests would destroy that token, after which every later
request only gets 401 and the run silently stops testing anything. These hooks keep
those operations fuzzed without letting them hit the run's own credentials:

* Main pass: PATCH/DELETE /api/admin/users/{id},
  POST /api/admin/users/{id}/revoke-sessions and DELETE /api/admin/users/{id}/mfa
  (which revokes the user's sessions) with {id} = the fuzzing admin's own id get
  an id that is no user's instead (`map_case`, which every phase applies). Demoting,
  disabling or deleting that admin, or revoking its sessions, ends the run's session;
  `last_admin` protects it only until the run has created a second admin through
  POST /api/admin/users. Every other id is fuzzed.
* Main pass: DELETE /api/sessions/{id} with {id} = the run's own session gets an id
  that is no session's instead (`map_case`). Session ids are random, but schemathesis
  4 feeds identifiers it has seen in responses (GET /api/sessions lists this one) back
  into path parameters, and often: dropping those cases (`filter_case`) trips its
  filter_too_much health check.
* Both passes: a POST /auth/logout case whose body is JSON `null` gets the body `[null]`
  instead (`map_case`), which violates the document the same way and must get 400.
  The server has always taken a `null` logout body as no body (v1 behaviour, asserted
  by tests/api/hostile.rs); the document describes the body as an object or nothing,
  because `oneOf [object, null]` makes generated clients (openapi-python-client)
  send a broken body when called without one. That one tolerance is the only thing
  kept from the fuzzer; every check still runs on every operation.
* Logout pass (FUZZ_PASS=logout): POST /auth/logout ends the session of whatever token
  it is sent with, so it runs in a pass of its own, without `-H`, where this auth
  provider logs in again for every generated case (no caching) and each call ends a
  throw-away session. (A `before_call` hook cannot do this in the main pass: the `-H`
  header is applied after it and wins.) Cases that deliberately drop the
  Authorization header (negative testing) are left without one by schemathesis.

Environment (set by scripts/fuzz.sh): FUZZ_BASE_URL, FUZZ_ADMIN_ID, FUZZ_SESSION_ID,
FUZZ_ADMIN_EMAIL, FUZZ_ADMIN_PASSWORD, FUZZ_PASS (main | logout).
"""

import json
import os
import urllib.request

import schemathesis

BASE_URL = os.environ["FUZZ_BASE_URL"].rstrip("/")
ADMIN_ID = int(os.environ["FUZZ_ADMIN_ID"])
ADMIN_EMAIL = os.environ["FUZZ_ADMIN_EMAIL"]
ADMIN_PASSWORD = os.environ["FUZZ_ADMIN_PASSWORD"]
SESSION_ID = os.environ["FUZZ_SESSION_ID"]
PASS = os.environ.get("FUZZ_PASS", "main")

# Operations whose {id} must never be the fuzzing admin.
ADMIN_ID_GUARDED = {
    ("PATCH", "/api/admin/users/{id}"),
    ("DELETE", "/api/admin/users/{id}"),
    ("POST", "/api/admin/users/{id}/revoke-sessions"),
    ("DELETE", "/api/admin/users/{id}/mfa"),
}
# Its {id} must never be the run's own session.
SESSION_DELETE = ("DELETE", "/api/sessions/{id}")


def _is_admin_id(value):
    # The server parses the segment as an i64 (which accepts "01" and "+1"); int()
    # accepts a superset of that, so this errs on the side of replacing an id.
    try:
        return int(str(value), 10) == ADMIN_ID
    except (TypeError, ValueError):
        return False


# Replacements: well-formed, so the request still goes through the server's lookup,
# and never the run's own (i64::MAX is no user id; session ids are base64url).
SPARE_USER_ID = 2**63 - 1
SPARE_SESSION_ID = "fuzz-not-a-session"


# The v1 tolerance described above.
LOGOUT = ("POST", "/auth/logout")


@schemathesis.hook
def map_case(context, case):
    operation = context.operation
    key = (operation.method.upper(), operation.path)
    if key == LOGOUT and case.body is None:
        case.body = [None]
        return case
    params = case.path_parameters
    if not params or "id" not in params:
        return case
    if key in ADMIN_ID_GUARDED and _is_admin_id(params["id"]):
        params["id"] = SPARE_USER_ID
    elif key == SESSION_DELETE and str(params["id"]) == SESSION_ID:
        params["id"] = SPARE_SESSION_ID
    return case


def _login():
    request = urllib.request.Request(
        BASE_URL + "/auth/login",
        data=json.dumps({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


if PASS == "logout":

    @schemathesis.auth(refresh_interval=None)
    class ThrowAwayAdminSession:
        """A new admin session for every case: logout may end it."""

        def get(self, case, context):
            return _login()

        def set(self, case, data, context):
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"
