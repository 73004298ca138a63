//! Diesel table definitions shared by the SQLite and PostgreSQL migrations.

diesel::table! {
    users (id) {
        id -> BigInt,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        password_version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        last_login_at -> Nullable<Timestamp>,
        email_verified -> Bool,
        mfa_enabled -> Bool,
        security_stamp -> BigInt,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> BigInt,
        password_version -> Integer,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
        revoked_at -> Nullable<Timestamp>,
        amr -> Text,
        authenticated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> BigInt,
        session_id -> Text,
        token_hash -> Text,
        parent_id -> Nullable<BigInt>,
        issued_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> Timestamp,
        actor_id -> Nullable<BigInt>,
        action -> Text,
        target_id -> Nullable<BigInt>,
        ip -> Nullable<Text>,
        detail -> Text,
    }
}

diesel::table! {
    login_failures (id) {
        id -> BigInt,
        at -> Timestamp,
        email -> Text,
        ip -> Text,
        pending -> Bool,
    }
}

diesel::table! {
    roles (name) {
        name -> Text,
        description -> Text,
        builtin -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    role_permissions (role, permission) {
        role -> Text,
        permission -> Text,
    }
}

diesel::table! {
    email_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        purpose -> Text,
        token_hash -> Text,
        email -> Text,
        password_version -> Integer,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        security_stamp -> BigInt,
    }
}

diesel::table! {
    outbox (id) {
        id -> BigInt,
        kind -> Text,
        user_id -> Nullable<BigInt>,
        to_addr -> Text,
        ip -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        granted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rate_events (id) {
        id -> BigInt,
        key -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    totp_secrets (user_id) {
        user_id -> BigInt,
        secret_sealed -> Text,
        confirmed -> Bool,
        last_step -> BigInt,
        created_at -> Timestamp,
        security_stamp -> BigInt,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> BigInt,
        user_id -> BigInt,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    mfa_challenges (user_id) {
        user_id -> BigInt,
        token_hash -> Text,
        password_version -> Integer,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        security_stamp -> BigInt,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_sealed -> Text,
        public_jwk -> Text,
        created_at -> Timestamp,
        rotated_out_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        permissions -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// One row (id 1) of user counts, kept by triggers on `users`.
    user_stats (id) {
        id -> Integer,
        total -> BigInt,
        admins -> BigInt,
        disabled -> BigInt,
        mfa_enabled -> BigInt,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(role_permissions -> roles (role));
diesel::joinable!(refresh_tokens -> sessions (session_id));

diesel::allow_tables_to_appear_in_same_query!(
    api_keys,
    email_tokens,
    mfa_challenges,
    recovery_codes,
    signing_keys,
    totp_secrets,
    outbox,
    rate_events,
    roles,
    role_permissions,
    users,
    sessions,
    refresh_tokens,
    audit_events,
    login_failures,
    user_stats
);
