"""Runtime checks of the Python client generated from turnstile's OpenAPI document
(openapi-python-client): it imports, parses what the server sends, and calls the
routes the way a Python developer would. Run by scripts/openapi-check.sh."""

import inspect
import sys

sys.path.insert(0, sys.argv[1])

from turnstile_client import Client  # noqa: E402
from turnstile_client.api.auth import login, logout  # noqa: E402
from turnstile_client.models import (  # noqa: E402
    AuditEventView,
    AuditPage,
    ErrorBody,
    ErrorCode,
    LoginRefusal,
    ProfileView,
    RecoveryCodesView,
    RoleView,
    TokenPairView,
    UserView,
)
from turnstile_client.types import UNSET  # noqa: E402

USER = {
    "id": 1,
    "email": "alice@example.com",
    "role": "user",
    "disabled": False,
    "email_verified": False,
    "mfa_enabled": False,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
    "last_login_at": None,
}

user = UserView.from_dict(USER)
assert user.role == "user", user.role
profile = ProfileView.from_dict({**USER, "permissions": ["users:read"]})
assert profile.permissions == ["users:read"]
role = RoleView.from_dict(
    {
        "name": "support",
        "description": "",
        "permissions": ["users:read"],
        "builtin": False,
        "users": 2,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
)
assert role.users == 2
assert user.last_login_at is None

pair = TokenPairView.from_dict(
    {"access_token": "a", "refresh_token": "r", "token_type": "Bearer", "expires_in": 900, "user": USER}
)
assert pair.user.email == "alice@example.com"

event = AuditEventView.from_dict(
    {
        "id": 1,
        "at": "2026-01-01T00:00:00Z",
        "actor_id": None,
        "action": "login_failure",
        "target_id": None,
        "ip": None,
        "detail": {"reason": "invalid_credentials", "malformed_email": True},
    }
)
assert event.detail["reason"] == "invalid_credentials", event.detail.to_dict()
page = AuditPage.from_dict(
    {
        "items": [event.to_dict()],
        "total": 10000,
        "total_capped": True,
        "page": 1,
        "per_page": 20,
        "next_cursor": "YTE6NDI",
    }
)
assert isinstance(page.items[0], AuditEventView)
assert page.total_capped is True and page.next_cursor == "YTE6NDI"
last = AuditPage.from_dict(
    {"items": [], "total": 0, "total_capped": False, "page": 1, "per_page": 20, "next_cursor": None}
)
assert last.next_cursor is None

error = ErrorBody.from_dict({"error": "too_many_attempts", "message": "try again later"})
assert error.error == ErrorCode.TOO_MANY_ATTEMPTS

# Login's 401 is the envelope, with the second step's token when MFA is on.
refusal = LoginRefusal.from_dict(
    {"error": "mfa_required", "message": "a code is needed", "mfa_token": "t", "expires_in": 300}
)
assert refusal.error == ErrorCode.MFA_REQUIRED and refusal.mfa_token == "t"
assert refusal.expires_in == 300
plain = LoginRefusal.from_dict({"error": "invalid_credentials", "message": "no"})
assert plain.mfa_token is UNSET
codes = RecoveryCodesView.from_dict({"recovery_codes": ["abcd-efgh-ijkl-mnop"] * 10})
assert len(codes.recovery_codes) == 10

# The logout body is optional: callable without one.
for fn in (logout.sync_detailed, logout.asyncio_detailed):
    body = inspect.signature(fn).parameters["body"]
    assert body.default is UNSET, f"logout body is required in {fn.__name__}"
assert "body" in inspect.signature(login.sync_detailed).parameters

Client(base_url="http://127.0.0.1:8080")
print("python client: ok")
