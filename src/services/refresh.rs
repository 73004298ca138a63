//! Refresh-token rotation with reuse detection.
//!
//! A session's refresh tokens form one chain: spending a token issues its successor,
//! derived from it under the server secret (`auth::refresh::successor`). A spent
//! token presented again within the reuse interval (a retried request, a second tab)
//! gets that same successor back, never a new one, so every holder of the session
//! shares one chain. A spent token presented after the interval revokes the session.
//! Everything happens under a lock on the session's row, so a rotation, a replay and a
//! revocation of one session never interleave. Tokens are issued only if the gate
//! (`services::admission`) lets the account have them now.

use crate::credentials::refresh::{hash_token, successor};
use crate::domain::Amr;
use crate::error::{AppError, AppResult};
use crate::models::audit::Audit;
use crate::models::refresh_tokens::{self, NewRefreshToken};
use crate::models::users::User;
use crate::models::{now, sessions, users};
use crate::net::ClientInfo;
use crate::services::admission::{Gate, Proof, Refusal};
use crate::services::sessions::{sign_in, Grant, SignedIn};
use crate::state::AppState;

enum Outcome {
    Rotated(User, Grant),
    /// The session was revoked in the transaction (user disabled, deleted or with a
    /// new password); the caller answers 401 after commit.
    Revoked,
    /// A spent token came back after the reuse interval: the session was revoked.
    ReuseDetected,
    /// The gate refused for now (address unverified, account locked out); the
    /// session stays.
    Barred(Refusal),
    Invalid,
}

/// Rotates a refresh token: the presented one is spent and its successor issued, in
/// one transaction.
pub async fn refresh(state: &AppState, presented: &str, client: ClientInfo) -> AppResult<SignedIn> {
    let hash = hash_token(presented);
    let next = successor(&state.settings.auth.jwt_secret, presented);
    let reuse_interval = state.settings.auth.refresh_reuse_interval_secs.delta();
    let gate = Gate::from_settings(&state.settings.auth);
    let outcome = state
        .change(move |tx| {
            let at = now();
            let Some((token, owner)) = refresh_tokens::find_with_owner(tx, &hash)? else {
                return Ok(Outcome::Invalid);
            };
            // The user's row, then the session's: the order of every path that
            // revokes sessions (a disable, a password change), so none deadlocks.
            let user = users::lock(tx, owner)?;
            let session = match sessions::lock(tx, &token.session_id)? {
                Some(s) if s.is_live(at) => s,
                _ => return Ok(Outcome::Invalid),
            };
            let proof = Proof::Session {
                password_version: session.password_version,
            };
            let refused = match &user {
                Some(u) => gate.decide(tx, u, proof, at)?.err(),
                None => Some(Refusal::Stale),
            };
            let user = match (user, refused) {
                (Some(u), None) => u,
                // Still the account's session: it may refresh once this passes.
                (_, Some(r @ (Refusal::Unverified | Refusal::Locked(_)))) => {
                    return Ok(Outcome::Barred(r))
                }
                _ => {
                    sessions::revoke(tx, &session.id, at)?;
                    return Ok(Outcome::Revoked);
                }
            };
            let grant = Grant {
                session_id: session.id.clone(),
                refresh_token: next.clone(),
                expires_at: session.expires_at,
                // Refreshing keeps how the session was authenticated.
                amr: Amr::from_stored(&session.amr),
                auth_time: session.auth_time(),
            };
            if refresh_tokens::claim(tx, token.id, at)? == 1 {
                refresh_tokens::insert(
                    tx,
                    &NewRefreshToken {
                        session_id: &session.id,
                        token_hash: &hash_token(&next),
                        parent_id: Some(token.id),
                        issued_at: at,
                    },
                )?;
                sessions::touch(tx, &session.id, at)?;
                return Ok(Outcome::Rotated(user, grant));
            }
            let spent_at = refresh_tokens::used_at(tx, token.id)?.unwrap_or(at);
            let since_spent = at - spent_at;
            let ip = client.ip.as_deref();
            if reuse_interval.is_zero() || since_spent >= reuse_interval {
                sessions::revoke(tx, &session.id, at)?;
                Audit::refresh_reuse_detected(&session.id)
                    .target(user.id)
                    .ip(ip)
                    .record(tx, at)?;
                return Ok(Outcome::ReuseDetected);
            }
            // Within the interval: the successor issued when the token was spent.
            // It is missing only if the server secret changed since; then this old
            // token simply stops working.
            match refresh_tokens::find_by_hash(tx, &hash_token(&next))? {
                Some(t) if t.session_id == session.id => {}
                _ => return Ok(Outcome::Invalid),
            }
            Audit::refresh_replayed(&session.id, since_spent.num_milliseconds())
                .target(user.id)
                .ip(ip)
                .record(tx, at)?;
            Ok(Outcome::Rotated(user, grant))
        })
        .await?;
    let (name, result) = match outcome {
        Outcome::Rotated(user, grant) => ("success", sign_in(state, user, grant).await),
        Outcome::ReuseDetected => ("reuse_detected", Err(AppError::InvalidRefreshToken)),
        Outcome::Revoked => ("revoked", Err(AppError::InvalidRefreshToken)),
        Outcome::Invalid => ("invalid", Err(AppError::InvalidRefreshToken)),
        Outcome::Barred(r) => ("refused", Err(r.error(AppError::InvalidRefreshToken))),
    };
    state.metrics.refresh(name);
    result
}
