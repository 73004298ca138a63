//! The OAuth endpoints other services use: what a refresh token is worth right now
//! (for introspection, RFC 7662; access tokens are checked by the bearer middleware's
//! own function), and token revocation (RFC 7009).

use chrono::NaiveDateTime;

use crate::credentials::refresh::hash_token;
use crate::error::{AppError, AppResult};
use crate::models::audit::Audit;
use crate::models::{now, refresh_tokens, sessions, users};
use crate::net::ClientInfo;
use crate::services::Principal;
use crate::state::AppState;

/// A refresh token that would refresh right now.
pub struct LiveRefreshToken {
    pub user_id: i64,
    pub session_id: String,
    /// The session's end: the token cannot outlive it.
    pub expires_at: NaiveDateTime,
}

/// Introspection is for services: a person's token is refused (403), whatever it holds.
pub fn ensure_service(caller: &Principal) -> AppResult<()> {
    match caller {
        Principal::Service(_) => Ok(()),
        Principal::Person(_) => Err(AppError::Forbidden),
    }
}

/// The refresh token `token`, if refreshing with it would work now: unspent, its
/// session live, its user enabled and of the same password version.
pub async fn live_refresh_token(
    state: &AppState,
    token: &str,
) -> AppResult<Option<LiveRefreshToken>> {
    let hash = hash_token(token);
    state
        .db
        .run(move |conn| {
            let at = now();
            let Some(t) = refresh_tokens::find_by_hash(conn, &hash)? else {
                return Ok(None);
            };
            if t.used_at.is_some() {
                return Ok(None);
            }
            let Some(session) = sessions::find(conn, &t.session_id)?.filter(|s| s.is_live(at))
            else {
                return Ok(None);
            };
            let live = users::find(conn, session.user_id)?
                .is_some_and(|u| !u.disabled && u.password_version == session.password_version);
            Ok(live.then_some(LiveRefreshToken {
                user_id: session.user_id,
                session_id: session.id,
                expires_at: session.expires_at,
            }))
        })
        .await
}

/// `POST /oauth/revoke`: ends the session `token` belongs to, an access token (by its
/// `sid`) or a refresh token. Holding the token is enough. Answers the same whether
/// or not there was anything to revoke (an unknown, expired or spent token changes
/// nothing), as RFC 7009 §2.2 asks. Nobody authenticates here, so the audit event
/// names no actor: whoever presented the token may not be its owner (a service, or
/// someone who found it), and the owner is the event's target.
pub async fn revoke(state: &AppState, token: String, client: ClientInfo) -> AppResult<()> {
    // An access token names its session; anything else may be a refresh token.
    let access = state
        .tokens
        .verify(&token)
        .ok()
        .and_then(|c| c.user_id().map(|uid| (c.sid.clone(), uid)));
    let hash = hash_token(&token);
    state
        .change(move |tx| {
            let at = now();
            let (sid, owner) = match access {
                Some((sid, uid)) => (sid, Some(uid)),
                None => match refresh_tokens::find_by_hash(tx, &hash)? {
                    Some(t) => (t.session_id, None),
                    None => return Ok(()),
                },
            };
            let Some(session) = sessions::find(tx, &sid)? else {
                return Ok(());
            };
            let ours = owner.is_none_or(|uid| uid == session.user_id);
            if !ours || !session.is_live(at) || sessions::revoke(tx, &sid, at)? == 0 {
                return Ok(());
            }
            Audit::session_revoked_by_oauth(&sid)
                .target(session.user_id)
                .ip(client.ip.as_deref())
                .record(tx, at)?;
            Ok(())
        })
        .await
}
