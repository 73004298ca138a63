//! The `signing_keys` table: key pairs for asymmetric access tokens, one current per
//! algorithm (a partial unique index), older ones kept while tokens may carry them.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Conn;
use crate::models::auth_state::{AuthTx, Change};
use crate::schema::signing_keys;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = signing_keys)]
pub struct SigningKeyRow {
    pub kid: String,
    pub alg: String,
    /// `Sealer::seal` of the private key's DER; never the key itself.
    pub private_sealed: String,
    pub public_jwk: String,
    pub created_at: NaiveDateTime,
    pub rotated_out_at: Option<NaiveDateTime>,
}

pub struct NewSigningKey<'a> {
    pub kid: &'a str,
    pub alg: &'a str,
    pub private_sealed: &'a str,
    pub public_jwk: &'a str,
}

/// The keys of `alg` that are current or were rotated out since `since`, newest first.
pub fn live(conn: &mut Conn, alg: &str, since: NaiveDateTime) -> QueryResult<Vec<SigningKeyRow>> {
    signing_keys::table
        .filter(signing_keys::alg.eq(alg))
        .filter(
            signing_keys::rotated_out_at
                .is_null()
                .or(signing_keys::rotated_out_at.gt(since)),
        )
        .order(signing_keys::created_at.desc())
        .select(SigningKeyRow::as_select())
        .load(conn)
}

/// Every key ever made, newest first (the admin listing).
pub fn all(conn: &mut Conn) -> QueryResult<Vec<SigningKeyRow>> {
    signing_keys::table
        .order(signing_keys::created_at.desc())
        .select(SigningKeyRow::as_select())
        .load(conn)
}

pub fn current(conn: &mut Conn, alg: &str) -> QueryResult<Option<SigningKeyRow>> {
    signing_keys::table
        .filter(signing_keys::alg.eq(alg))
        .filter(signing_keys::rotated_out_at.is_null())
        .select(SigningKeyRow::as_select())
        .first(conn)
        .optional()
}

/// Makes `new` the current key of its algorithm: the one before it (and the current
/// key of any other algorithm: after a switch, their tokens are refused) is rotated
/// out at `now`. Every instance reloads its keys (the change feed).
pub fn rotate(tx: &mut AuthTx<'_>, new: &NewSigningKey<'_>, now: NaiveDateTime) -> QueryResult<()> {
    tx.record(Change::Keys);
    diesel::update(signing_keys::table.filter(signing_keys::rotated_out_at.is_null()))
        .set(signing_keys::rotated_out_at.eq(now))
        .execute(&mut **tx)?;
    diesel::insert_into(signing_keys::table)
        .values((
            signing_keys::kid.eq(new.kid),
            signing_keys::alg.eq(new.alg),
            signing_keys::private_sealed.eq(new.private_sealed),
            signing_keys::public_jwk.eq(new.public_jwk),
            signing_keys::created_at.eq(now),
        ))
        .execute(&mut **tx)?;
    Ok(())
}
