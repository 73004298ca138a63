//! The `totp_secrets` table: one sealed TOTP secret per user, pending until confirmed,
//! with the last time step whose code was accepted (a code works once).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Conn;
use crate::schema::totp_secrets;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = totp_secrets)]
pub struct TotpSecret {
    pub user_id: i64,
    /// `Sealer::seal` output; never the secret itself.
    pub secret_sealed: String,
    pub confirmed: bool,
    pub last_step: i64,
    pub created_at: NaiveDateTime,
    /// The account's security stamp when the enrollment started: a pending secret
    /// dies with it.
    pub security_stamp: i64,
}

pub fn find(conn: &mut Conn, user_id: i64) -> QueryResult<Option<TotpSecret>> {
    totp_secrets::table
        .find(user_id)
        .select(TotpSecret::as_select())
        .first(conn)
        .optional()
}

/// Starts (or restarts) an enrollment: the user's secret becomes `sealed`,
/// unconfirmed. Call under the user's row lock, after checking MFA is off.
pub fn put_pending(
    conn: &mut Conn,
    user_id: i64,
    sealed: &str,
    security_stamp: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    delete(conn, user_id)?;
    diesel::insert_into(totp_secrets::table)
        .values((
            totp_secrets::user_id.eq(user_id),
            totp_secrets::secret_sealed.eq(sealed),
            totp_secrets::confirmed.eq(false),
            totp_secrets::last_step.eq(0_i64),
            totp_secrets::created_at.eq(now),
            totp_secrets::security_stamp.eq(security_stamp),
        ))
        .execute(conn)
}

/// Accepts the code of time step `step` (confirming a pending secret if `confirm`):
/// 1 if no code of this or a later step was accepted before, 0 otherwise. One
/// statement, so of any number of concurrent presentations of one code, on any
/// number of instances, exactly one gets 1.
pub fn accept_step(conn: &mut Conn, user_id: i64, step: i64, confirm: bool) -> QueryResult<usize> {
    let target = totp_secrets::table
        .find(user_id)
        .filter(totp_secrets::last_step.lt(step))
        .filter(totp_secrets::confirmed.eq(!confirm));
    diesel::update(target)
        .set((
            totp_secrets::last_step.eq(step),
            totp_secrets::confirmed.eq(true),
        ))
        .execute(conn)
}

pub fn delete(conn: &mut Conn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(totp_secrets::table.find(user_id)).execute(conn)
}
