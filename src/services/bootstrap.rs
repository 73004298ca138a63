//! The first admin: from APP__BOOTSTRAP__* at start, or `turnstile create-admin`.

use crate::credentials::passwords::hash_blocking;
use crate::db::Db;
use crate::domain::role::ADMIN;
use crate::domain::{Email, Password};
use crate::error::AppError;
use crate::models::audit::Audit;
use crate::models::now;
use crate::models::users::{self, NewUser, User};
use crate::settings::Settings;

/// Why the bootstrap admin could not be made; the server refuses to start.
#[derive(Debug, thiserror::Error)]
#[error("APP__BOOTSTRAP__ADMIN_*: {0}")]
pub struct BootstrapError(AppError);

/// Creates the bootstrap admin when both settings are present and no admin exists.
/// Idempotent: later starts find the admin and do nothing. Blocking.
pub fn ensure_admin(db: &Db, settings: &Settings) -> Result<(), BootstrapError> {
    let (Some(email), Some(password)) = (
        &settings.bootstrap.admin_email,
        &settings.bootstrap.admin_password,
    ) else {
        return Ok(());
    };
    let fail = BootstrapError;
    let email = Email::parse(email).map_err(|e| fail(e.into()))?;
    let password = Password::parse(password.expose().to_string()).map_err(|e| fail(e.into()))?;
    let exists = db
        .transaction_blocking(|conn| Ok(users::any_admin(conn)?))
        .map_err(fail)?;
    if exists {
        return Ok(());
    }
    let user =
        create_admin(db, &email, &password, settings.auth.bcrypt_cost.get()).map_err(fail)?;
    log::info!("bootstrap: created admin account id {}", user.id);
    Ok(())
}

/// Blocking: creates an admin account. An address already in use is refused, never
/// promoted (whoever registered it first would otherwise become admin).
pub fn create_admin(
    db: &Db,
    email: &Email,
    password: &Password,
    cost: u32,
) -> Result<User, AppError> {
    let hash = hash_blocking(password.expose(), cost)?;
    db.transaction_blocking(|conn| {
        if users::find_by_email(conn, email.as_str())?.is_some() {
            return Err(AppError::EmailTaken);
        }
        let at = now();
        let user = users::insert(
            conn,
            &NewUser {
                email: email.as_str(),
                password_hash: &hash,
                role: ADMIN,
                disabled: false,
                password_version: 1,
                created_at: at,
                updated_at: at,
                // Made by the operator: the address is the operator's word.
                email_verified: true,
            },
        )?;
        Audit::admin_bootstrapped()
            .target(user.id)
            .record(conn, at)?;
        Ok(user)
    })
}
