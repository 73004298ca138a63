-- Account recovery and email verification (see migrations/postgres).
-- Existing accounts' addresses were never verified.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT 0;

-- Single-use tokens of reset and verification links, stored only as SHA-256 hashes.
CREATE TABLE email_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('reset', 'verify')),
    token_hash TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    password_version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose);

-- The transactional outbox: a mail to send, written in the transaction that causes it.
-- It says what to send, never a token: links are made when the mail is sent.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    to_addr TEXT NOT NULL,
    ip TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    lease_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP,
    last_error TEXT
);
CREATE INDEX outbox_due_idx ON outbox (status, next_attempt_at);
CREATE INDEX outbox_to_idx ON outbox (to_addr, created_at);

-- Requests counted for rate limits other than the login lockout (per key, in a window).
CREATE TABLE rate_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX rate_events_key_idx ON rate_events (key, at);
