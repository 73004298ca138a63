//! The `api_keys` table: service credentials, stored as hashes, with the permissions
//! they grant.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Conn;
use crate::models::auth_state::{AuthTx, Change};
use crate::schema::api_keys;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    /// A JSON array of permission strings.
    pub permissions: String,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

impl ApiKey {
    /// The permissions it grants; a row that does not parse grants nothing.
    pub fn permission_list(&self) -> Vec<String> {
        serde_json::from_str(&self.permissions).unwrap_or_default()
    }

    pub fn is_live(&self, now: NaiveDateTime) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }
}

#[derive(Insertable)]
#[diesel(table_name = api_keys)]
pub struct NewApiKey<'a> {
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub permissions: &'a str,
    pub created_by: Option<i64>,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut Conn, new: &NewApiKey<'_>) -> QueryResult<ApiKey> {
    diesel::insert_into(api_keys::table)
        .values(new)
        .execute(conn)?;
    find_by_hash(conn, new.key_hash)?.ok_or(diesel::result::Error::NotFound)
}

pub fn find_by_hash(conn: &mut Conn, hash: &str) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .filter(api_keys::key_hash.eq(hash))
        .select(ApiKey::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut Conn, id: i64) -> QueryResult<Option<ApiKey>> {
    api_keys::table
        .find(id)
        .select(ApiKey::as_select())
        .first(conn)
        .optional()
}

/// Every key, newest first.
pub fn list(conn: &mut Conn) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .order(api_keys::id.desc())
        .select(ApiKey::as_select())
        .load(conn)
}

/// Deletes the key: refused from the next request, on every instance.
pub fn delete(tx: &mut AuthTx<'_>, id: i64) -> QueryResult<usize> {
    tx.record(Change::ApiKey(id));
    diesel::delete(api_keys::table.find(id)).execute(&mut **tx)
}

/// Records that the key was used (at most about once a minute per key: see the
/// bearer middleware). Not auth state: nothing checks it.
pub fn touch(conn: &mut Conn, id: i64, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(api_keys::table.find(id))
        .set(api_keys::last_used_at.eq(at))
        .execute(conn)
}
