-- Key pairs for EdDSA, ES256 and RS256 access tokens, shared by every instance. The
-- private key is sealed (AEAD under a key derived from the server secret); the public
-- half is kept as its JWK. A key is current until rotated_out_at; tokens signed with
-- it verify until ACCESS_TOKEN_TTL_SECS + LEEWAY_SECS after that.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_sealed TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    rotated_out_at TIMESTAMP
);
-- One current key per algorithm, whatever instances race to make one.
CREATE UNIQUE INDEX signing_keys_one_current ON signing_keys (alg) WHERE rotated_out_at IS NULL;
