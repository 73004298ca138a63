"""Verifies turnstile's access tokens the way another service would, with a JWT
library turnstile does not use (PyJWT): the key comes from /.well-known/jwks.json by
the token's `kid`, the algorithm is pinned, `iss`, `aud`, `exp` and `typ` are checked.

    python verify.py BASE_URL ALG

Registers an account, logs in, verifies the access token from the JWKS alone, then
has turnstile rotate its key (as the bootstrap admin) and verifies a token signed
with the new key the same way. Exits non-zero on any failure."""

import json
import sys
import urllib.request
import uuid

import jwt

BASE, ALG = sys.argv[1].rstrip("/"), sys.argv[2]
ADMIN = ("jwks-admin@example.com", "jwks admin password")


def call(method, path, body=None, token=None):
    req = urllib.request.Request(BASE + path, method=method)
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read() or b"null")


def login(email, password):
    return call("POST", "/auth/login", {"email": email, "password": password})["access_token"]


def verify(token):
    # A fresh client each time: no cached key set, everything from the JWKS.
    client = jwt.PyJWKClient(BASE + "/.well-known/jwks.json", cache_keys=False)
    key = client.get_signing_key_from_jwt(token)
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt", header
    assert header["alg"] == ALG, header
    claims = jwt.decode(
        token,
        key.key,
        algorithms=[ALG],
        issuer="turnstile",
        audience="turnstile",
        options={"require": ["exp", "iat", "nbf", "sub", "iss", "aud"]},
    )
    return header["kid"], claims


email = f"jwks-{uuid.uuid4().hex[:12]}@example.com"
call("POST", "/auth/register", {"email": email, "password": "correct horse battery"})
kid, claims = verify(login(email, "correct horse battery"))
assert claims["amr"] == ["pwd"], claims
# A token tampered with fails.
token = login(email, "correct horse battery")
head, body, sig = token.split(".")
forged = ".".join([head, body, ("A" if sig[0] != "A" else "B") + sig[1:]])
try:
    verify(forged)
except jwt.InvalidSignatureError:
    pass
else:
    raise SystemExit(f"{ALG}: a forged signature verified")
admin = login(*ADMIN)
new_kid = call("POST", "/api/admin/keys/rotate", {}, token=admin)["kid"]
rotated_kid, _ = verify(login(email, "correct horse battery"))
assert rotated_kid == new_kid != kid, (kid, new_kid, rotated_kid)
print(f"{ALG}: tokens verify from the JWKS with PyJWT {jwt.__version__} (kid {kid}, then {new_kid})")
