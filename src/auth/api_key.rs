//! API keys (`tsk_...`) at the bearer middleware: a service credential with
//! permissions of its own, bounded by its owner's current ones, checked from the auth
//! cache (no query per request in steady state), its `last_used_at` written about
//! once a minute.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use actix_web::web;

use crate::auth::roles::role_permissions;
use crate::cache::ApiKeyState;
use crate::credentials::api_key;
use crate::credentials::refresh::hash_token;
use crate::domain::permission::ALL;
use crate::domain::PermissionSet;
use crate::error::AppError;
use crate::models::users::{self, User};
use crate::models::{api_keys, now};
use crate::state::AppState;

/// How often `last_used_at` is written at most, per key and instance.
const TOUCH_EVERY_SECS: i64 = 60;

/// An API key the bearer middleware accepts, as of now.
#[derive(Debug, Clone)]
pub struct VerifiedKey {
    pub key_id: i64,
    /// The person the key acts for (its creator, or its creator's creator).
    pub owner: i64,
    /// What the key may do now: its own permissions that its owner's role still holds.
    pub permissions: Arc<PermissionSet>,
}

/// True for what looks like an API key rather than a JWT.
pub fn is_api_key(token: &str) -> bool {
    api_key::looks_like_key(token)
}

/// Checks an API key: it must exist and not have expired, and the person it acts for
/// must still exist and be enabled (else 401 `invalid_token`). It may do what it was
/// given that its owner's role still grants: a key never outlives its owner's rights.
pub async fn authenticate(state: &web::Data<AppState>, key: &str) -> Result<VerifiedKey, AppError> {
    // Anything not shaped like a key is refused without asking the database.
    if !api_key::is_well_formed(key) {
        return Err(AppError::InvalidToken);
    }
    let hash = hash_token(key);
    let found = match state.cache.api_key(&hash) {
        Some(found) => found,
        None => {
            let epoch = state.cache.epoch();
            let lookup = hash.clone();
            let row = state
                .db
                .run(move |conn| Ok(api_keys::find_by_hash(conn, &lookup)?))
                .await?;
            let found = row.map(|k| {
                Arc::new(ApiKeyState {
                    id: k.id,
                    permissions: Arc::new(PermissionSet::new(k.permission_list())),
                    owner: k.created_by,
                    expires_at: k.expires_at,
                    last_written: AtomicI64::new(
                        k.last_used_at.map_or(0, |t| t.and_utc().timestamp()),
                    ),
                })
            });
            state.cache.fill_api_key(epoch, &hash, found.clone());
            found
        }
    };
    let key = found.ok_or(AppError::InvalidToken)?;
    let at = now();
    if key.expires_at.is_some_and(|t| t <= at) {
        return Err(AppError::InvalidToken);
    }
    let owner = owner(state, key.owner).await?;
    let held = role_permissions(state, &owner.role).await?;
    // An owner holding everything leaves the key as it is (no set to build).
    let permissions = match held.allows(ALL) {
        true => Arc::clone(&key.permissions),
        false => Arc::new(key.permissions.intersect(&held)),
    };
    touch_if_due(state, &key, at);
    Ok(VerifiedKey {
        key_id: key.id,
        owner: owner.id,
        permissions,
    })
}

/// The key's owner as of now (from the auth cache, which every change of a user
/// invalidates, or one query): 401 when deleted or disabled.
async fn owner(state: &AppState, id: Option<i64>) -> Result<Arc<User>, AppError> {
    let id = id.ok_or(AppError::InvalidToken)?;
    let user = match state.cache.user(id) {
        Some(u) => u,
        None => {
            let epoch = state.cache.epoch();
            let user = state
                .db
                .run(move |conn| Ok(users::find(conn, id)?))
                .await?
                .map(Arc::new)
                .ok_or(AppError::InvalidToken)?;
            state.cache.fill_user(epoch, Arc::clone(&user));
            user
        }
    };
    match user.disabled {
        true => Err(AppError::InvalidToken),
        false => Ok(user),
    }
}

/// Writes `last_used_at` in the background, once a minute at most: of the requests
/// that find it due, one wins the swap and writes.
fn touch_if_due(state: &web::Data<AppState>, key: &ApiKeyState, at: chrono::NaiveDateTime) {
    let now_secs = at.and_utc().timestamp();
    let last = key.last_written.load(Ordering::Relaxed);
    if now_secs - last < TOUCH_EVERY_SECS
        || key
            .last_written
            .compare_exchange(last, now_secs, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let (state, id) = (state.clone(), key.id);
    actix_web::rt::spawn(async move {
        // A transaction, so that on SQLite it takes its turn with the other writers
        // (a bare write could make a concurrent transaction's snapshot stale: 503).
        let written = state
            .db
            .transaction(move |conn| Ok(api_keys::touch(conn, id, at)?))
            .await;
        if let Err(e) = written {
            log::warn!("could not record the use of API key {id}: {}", e.code());
        }
    });
}
