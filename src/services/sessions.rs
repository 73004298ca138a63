//! Sessions: starting one, signing its tokens, listing and revoking, logout, purge.

use chrono::{Duration, NaiveDateTime};

use crate::credentials::refresh::{hash_token, new_refresh_token};
use crate::credentials::TokenSubject;
use crate::db::Conn;
use crate::domain::Amr;
use crate::error::{AppError, AppResult};
use crate::models::audit::{Audit, SecondFactor};
use crate::models::auth_state::AuthTx;
use crate::models::refresh_tokens::{self, NewRefreshToken};
use crate::models::sessions::{self, Session};
use crate::models::users::{self, User};
use crate::models::{email_tokens, login_failures, mfa_challenges, now, outbox, rate_events};
use crate::net::ClientInfo;
use crate::secret::new_id;
use crate::services::{keys, Caller};
use crate::settings::Seconds;
use crate::state::AppState;

/// A session's id, its current refresh token, its absolute end, and how and when it
/// was authenticated.
pub struct Grant {
    pub session_id: String,
    pub refresh_token: String,
    pub expires_at: NaiveDateTime,
    pub amr: Amr,
    pub auth_time: NaiveDateTime,
}

/// What login, refresh and password change hand back: the account and a fresh pair.
pub struct SignedIn {
    pub user: User,
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: String,
}

/// What a successful login does, in its transaction: the account's last login, a new
/// session, and the `login_success` event naming the second factor that completed it,
/// if one did. The user as signed in now.
pub fn start_login(
    tx: &mut AuthTx<'_>,
    user: User,
    client: &ClientInfo,
    second_factor: Option<SecondFactor>,
    ttl: Seconds<1>,
    at: NaiveDateTime,
) -> AppResult<(User, Grant)> {
    let amr = match second_factor {
        Some(_) => Amr::PasswordAndOtp,
        None => Amr::Password,
    };
    users::touch_last_login(tx, user.id, at)?;
    let grant = start(tx, &user, client, amr, ttl, at)?;
    Audit::login_success(&grant.session_id, second_factor)
        .by_owner(user.id)
        .ip(client.ip.as_deref())
        .record(tx, at)?;
    let user = User {
        last_login_at: Some(at),
        ..user
    };
    Ok((user, grant))
}

/// Starts a session for `user` on this device, authenticated by `amr`. The session
/// ends `ttl` after login, whatever the rotations in between (absolute lifetime).
pub fn start(
    conn: &mut Conn,
    user: &User,
    client: &ClientInfo,
    amr: Amr,
    ttl: Seconds<1>,
    at: NaiveDateTime,
) -> AppResult<Grant> {
    let session = Session {
        id: new_id(),
        user_id: user.id,
        password_version: user.password_version,
        created_at: at,
        last_used_at: at,
        expires_at: at + ttl.delta(),
        user_agent: client.user_agent.clone(),
        ip: client.ip.clone(),
        revoked_at: None,
        amr: amr.as_str().to_string(),
        authenticated_at: Some(at),
    };
    sessions::insert(conn, &session)?;
    let refresh_token = new_refresh_token();
    refresh_tokens::insert(
        conn,
        &NewRefreshToken {
            session_id: &session.id,
            token_hash: &hash_token(&refresh_token),
            parent_id: None,
            issued_at: at,
        },
    )?;
    Ok(Grant {
        session_id: session.id,
        refresh_token,
        expires_at: session.expires_at,
        amr,
        auth_time: at,
    })
}

/// Signs an access token for the grant: it never outlives the session. Signed with
/// the current key, even one another instance rotated in a moment ago.
pub async fn sign_in(state: &AppState, user: User, grant: Grant) -> AppResult<SignedIn> {
    keys::ensure_fresh(state).await?;
    let access = state.tokens.issue(&TokenSubject {
        user_id: user.id,
        role: &user.role,
        password_version: user.password_version,
        session_id: &grant.session_id,
        amr: grant.amr,
        auth_time: grant.auth_time.and_utc().timestamp(),
        not_after: Some(grant.expires_at.and_utc().timestamp()),
    })?;
    Ok(SignedIn {
        user,
        access_token: access.token,
        expires_in: access.expires_in,
        refresh_token: grant.refresh_token,
    })
}

/// The caller's live sessions, newest first.
pub async fn list(state: &AppState, caller: &Caller) -> AppResult<Vec<Session>> {
    let uid = caller.user_id;
    state
        .db
        .run(move |conn| Ok(sessions::list_live(conn, uid, now())?))
        .await
}

/// Revokes one of the caller's own sessions; anyone else's is "not found".
pub async fn revoke_own(state: &AppState, caller: &Caller, session_id: String) -> AppResult<()> {
    let (uid, client) = (caller.user_id, caller.client.clone());
    state
        .change(move |tx| {
            let at = now();
            match sessions::find(tx, &session_id)? {
                Some(s) if s.user_id == uid && s.is_live(at) => {
                    sessions::revoke(tx, &s.id, at)?;
                    Audit::session_revoked(&s.id)
                        .by_owner(uid)
                        .ip(client.ip.as_deref())
                        .record(tx, at)?;
                    Ok(())
                }
                _ => Err(AppError::NotFound("session")),
            }
        })
        .await
}

/// Ends the caller's session: its refresh tokens and every access token carrying its
/// id stop working at once. A refresh token of another of the caller's sessions, if
/// given, ends that session too.
pub async fn logout(
    state: &AppState,
    caller: &Caller,
    refresh_token: Option<String>,
) -> AppResult<()> {
    let (uid, sid) = (caller.user_id, caller.session_id.clone());
    let client = caller.client.clone();
    state
        .change(move |tx| {
            let at = now();
            let mut ended = vec![sid.clone()];
            if let Some(t) = refresh_token {
                if let Some(token) = refresh_tokens::find_by_hash(tx, &hash_token(&t))? {
                    let owned =
                        sessions::find(tx, &token.session_id)?.is_some_and(|s| s.user_id == uid);
                    if owned && token.session_id != sid {
                        ended.push(token.session_id);
                    }
                }
            }
            // One order for every transaction that revokes several sessions: two
            // logouts ending each other's sessions cannot deadlock.
            ended.sort();
            for id in ended {
                sessions::revoke(tx, &id, at)?;
            }
            Audit::logout(&sid)
                .by_owner(uid)
                .ip(client.ip.as_deref())
                .record(tx, at)?;
            Ok(())
        })
        .await
}

/// How long delivered, failed and suppressed mails stay in the outbox.
const OUTBOX_RETENTION_DAYS: i64 = 7;

/// Deletes rows that can no longer authenticate anything, so the tables stay bounded.
/// Safe at any time: a token whose session row is gone is refused like a revoked one,
/// and a purged session was already refused (revoked or expired), so no cache entry
/// needs invalidating. Also spent or expired link tokens, counted requests older than
/// the window, finished mails older than a week, and expired second-step challenges.
pub fn purge_expired(conn: &mut Conn, login_window: Seconds<0>) -> AppResult<(usize, usize)> {
    let at = now();
    let window = login_window.delta();
    let sessions = sessions::purge(conn, at)?;
    let failures = login_failures::purge(conn, at - window)?;
    email_tokens::purge(conn, at)?;
    // Counted requests stay an hour at least: the mail limit counts per hour.
    rate_events::purge(conn, at - window.max(Duration::hours(1)))?;
    outbox::purge(conn, at - Duration::days(OUTBOX_RETENTION_DAYS))?;
    mfa_challenges::purge(conn, at)?;
    Ok((sessions, failures))
}
