//! Sessions: starting one at login, minting refresh tokens, listing and revoking.

use chrono::{Duration, NaiveDateTime};

use crate::auth::refresh::{hash_token, new_id, new_refresh_token};
use crate::auth::AuthUser;
use crate::cache::Change;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::models::audit::{self, action, NewAuditEvent};
use crate::models::refresh_tokens::{self, NewRefreshToken};
use crate::models::sessions::{self, Session};
use crate::models::users::User;
use crate::models::{self, now};
use crate::net::ClientInfo;
use crate::state::AppState;
use crate::views::{SessionView, TokenPairView, UserView};

/// A fresh session's id, its first refresh token, and its absolute end.
pub struct Grant {
    pub session_id: String,
    pub refresh_token: String,
    pub expires_at: NaiveDateTime,
}

/// Starts a session for `user` on this device. The session ends `ttl_secs` after
/// login, whatever the rotations in between (absolute lifetime).
pub fn start(
    conn: &mut Conn,
    user: &User,
    client: &ClientInfo,
    ttl_secs: u64,
    at: NaiveDateTime,
) -> AppResult<Grant> {
    let session = Session {
        id: new_id(),
        user_id: user.id,
        password_version: user.password_version,
        created_at: at,
        last_used_at: at,
        expires_at: at + Duration::seconds(ttl_secs as i64),
        user_agent: client.user_agent.clone(),
        ip: client.ip.clone(),
        revoked_at: None,
    };
    sessions::insert(conn, &session)?;
    let refresh_token = mint_refresh(conn, &session.id, None, at)?;
    Ok(Grant {
        session_id: session.id,
        refresh_token,
        expires_at: session.expires_at,
    })
}

/// Creates and stores (as a hash) a new refresh token in a session.
pub fn mint_refresh(
    conn: &mut Conn,
    session_id: &str,
    parent_id: Option<i64>,
    at: NaiveDateTime,
) -> AppResult<String> {
    let token = new_refresh_token();
    refresh_tokens::insert(
        conn,
        &NewRefreshToken {
            session_id,
            token_hash: &hash_token(&token),
            parent_id,
            issued_at: at,
        },
    )?;
    Ok(token)
}

/// Signs an access token for the grant and assembles the response body.
pub fn token_pair(state: &AppState, user: &User, grant: Grant) -> AppResult<TokenPairView> {
    let access = state.tokens.issue(
        user.id,
        user.role(),
        user.password_version,
        &grant.session_id,
        Some(grant.expires_at.and_utc().timestamp()),
    )?;
    Ok(TokenPairView {
        access_token: access.token,
        refresh_token: grant.refresh_token,
        token_type: "Bearer",
        expires_in: access.expires_in,
        user: UserView::from(user),
    })
}

pub async fn list(state: &AppState, user: &AuthUser) -> AppResult<Vec<SessionView>> {
    let (uid, current) = (user.id, user.session_id.clone());
    state
        .db
        .run(move |conn| {
            let live = sessions::list_live(conn, uid, now())?;
            Ok(live.iter().map(|s| SessionView::new(s, &current)).collect())
        })
        .await
}

/// Revokes one of the caller's own sessions; anyone else's is "not found".
pub async fn revoke_own(
    state: &AppState,
    user: &AuthUser,
    session_id: String,
    client: ClientInfo,
) -> AppResult<()> {
    let uid = user.id;
    state
        .change(move |conn, changed| {
            let at = now();
            match sessions::find(conn, &session_id)? {
                Some(s) if s.user_id == uid && s.is_live(at) => {
                    sessions::revoke(conn, &s.id, at)?;
                    changed.push(Change::Session(s.id.clone()));
                    audit::record(
                        conn,
                        NewAuditEvent::new(action::SESSION_REVOKED, at)
                            .actor(uid)
                            .target(uid)
                            .ip(client.ip.as_deref())
                            .detail(serde_json::json!({ "session_id": s.id })),
                    )?;
                    Ok(())
                }
                _ => Err(AppError::NotFound("session")),
            }
        })
        .await
}

/// Deletes rows that can no longer authenticate anything, so the tables stay bounded.
pub fn purge_expired(conn: &mut Conn, login_window_secs: u64) -> AppResult<(usize, usize)> {
    let at = models::now();
    let sessions = sessions::purge(conn, at)?;
    let failures = crate::models::login_failures::purge(
        conn,
        at - Duration::seconds(login_window_secs as i64),
    )?;
    Ok((sessions, failures))
}
