//! API keys (`tsk_...`) at the bearer middleware: a service credential with
//! permissions of its own, checked from the auth cache (no query per request in
//! steady state), its `last_used_at` written about once a minute.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use actix_web::web;

use crate::cache::ApiKeyState;
use crate::credentials::api_key;
use crate::credentials::refresh::hash_token;
use crate::domain::PermissionSet;
use crate::error::AppError;
use crate::models::{api_keys, now};
use crate::state::AppState;

/// How often `last_used_at` is written at most, per key and instance.
const TOUCH_EVERY_SECS: i64 = 60;

/// A request authenticated with an API key: a service, not a person. Routes that need
/// a person (the profile, sessions, logout) refuse it with 403.
#[derive(Debug, Clone)]
pub struct ApiKeyCaller {
    pub key_id: i64,
    pub permissions: Arc<PermissionSet>,
}

/// True for what looks like an API key rather than a JWT.
pub fn is_api_key(token: &str) -> bool {
    api_key::looks_like_key(token)
}

/// Checks an API key: it must exist and not have expired.
pub async fn authenticate(
    state: &web::Data<AppState>,
    key: &str,
) -> Result<ApiKeyCaller, AppError> {
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
    touch_if_due(state, &key, at);
    Ok(ApiKeyCaller {
        key_id: key.id,
        permissions: Arc::clone(&key.permissions),
    })
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
