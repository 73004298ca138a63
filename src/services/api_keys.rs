//! API keys: service credentials with permissions of their own (never more than
//! their creator holds, then or later), shown once, stored as hashes, deleted at once
//! everywhere. A key acts for a person, its owner: whoever created it, or the owner
//! of the key that created it. It answers 401 once its owner is disabled or deleted,
//! and may only do what its owner's role still grants.

use std::collections::BTreeSet;

use chrono::Duration;

use crate::credentials::api_key::{new_key, SHOWN};
use crate::credentials::refresh::hash_token;
use crate::domain::permission::KEYS_MANAGE;
use crate::domain::Permission;
use crate::error::{AppError, AppResult};
use crate::models::api_keys::{self, ApiKey, NewApiKey};
use crate::models::audit::Audit;
use crate::models::now;
use crate::services::{authorize, Principal};
use crate::state::AppState;

/// The longest life a key may be given.
pub const MAX_DAYS: u32 = 3650;
const NAME_MAX: usize = 100;

/// A key's name: 1 to 100 characters, no control characters, trimmed.
pub fn parse_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    let ok =
        !name.is_empty() && name.chars().count() <= NAME_MAX && !name.chars().any(char::is_control);
    match ok {
        true => Ok(name.to_string()),
        false => Err(AppError::Validation(format!(
            "a key's name is 1 to {NAME_MAX} characters, without control characters"
        ))),
    }
}

/// `POST /api/admin/api-keys`: the key, in clear this once, and its row. The caller
/// needs `keys:manage` and every permission the key grants.
pub async fn create(
    state: &AppState,
    caller: &Principal,
    name: String,
    permissions: Vec<Permission>,
    expires_in_days: Option<u32>,
) -> AppResult<(ApiKey, String)> {
    authorize(&state.metrics, caller, [KEYS_MANAGE])?;
    let granted: Vec<String> = permissions
        .iter()
        .map(|p| p.as_str().to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    authorize(&state.metrics, caller, granted.iter().map(String::as_str))?;
    if expires_in_days.is_some_and(|d| d == 0 || d > MAX_DAYS) {
        return Err(AppError::Validation(format!(
            "expires_in_days is between 1 and {MAX_DAYS}"
        )));
    }
    let key = new_key();
    let (hash, prefix) = (hash_token(&key), key[..SHOWN].to_string());
    // A key made by a key acts for the same person: it can never outlive them.
    let (by, ip, creator) = (caller.by(), caller.client().ip.clone(), caller.acting_for());
    let json = serde_json::to_string(&granted).map_err(AppError::internal)?;
    let row = state
        .db
        .transaction(move |conn| {
            let at = now();
            let row = api_keys::insert(
                conn,
                &NewApiKey {
                    name: &name,
                    prefix: &prefix,
                    key_hash: &hash,
                    permissions: &json,
                    created_by: Some(creator),
                    created_at: at,
                    expires_at: expires_in_days.map(|d| at + Duration::days(i64::from(d))),
                },
            )?;
            Audit::api_key_created(row.id, &row.name, &granted)
                .by(by)
                .ip(ip.as_deref())
                .record(conn, at)?;
            Ok(row)
        })
        .await?;
    Ok((row, key))
}

/// `GET /api/admin/api-keys`: every key, newest first, without its secret.
pub async fn list(state: &AppState, caller: &Principal) -> AppResult<Vec<ApiKey>> {
    authorize(&state.metrics, caller, [KEYS_MANAGE])?;
    state.db.run(|conn| Ok(api_keys::list(conn)?)).await
}

/// `DELETE /api/admin/api-keys/{id}`: refused from the next request on this instance
/// and within a second on every other (the change feed).
pub async fn delete(state: &AppState, caller: &Principal, id: i64) -> AppResult<()> {
    authorize(&state.metrics, caller, [KEYS_MANAGE])?;
    let (by, ip) = (caller.by(), caller.client().ip.clone());
    state
        .change(move |tx| {
            let key = api_keys::find(tx, id)?.ok_or(AppError::NotFound("API key"))?;
            api_keys::delete(tx, id)?;
            Audit::api_key_deleted(id, &key.name)
                .by(by)
                .ip(ip.as_deref())
                .record(tx, now())?;
            Ok(())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::parse_name;

    #[test]
    fn key_names_are_trimmed_short_and_printable() {
        assert_eq!(parse_name("  billing sync ").unwrap(), "billing sync");
        for bad in ["", "   ", "tab\there", &"x".repeat(101)] {
            assert!(parse_name(bad).is_err(), "{bad:?}");
        }
        assert!(parse_name(&"é".repeat(100)).is_ok());
    }
}
