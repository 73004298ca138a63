//! The `users` table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Conn;
use crate::domain::role::ADMIN;
use crate::domain::RoleName;
use crate::models::auth_state::{AuthTx, Change};
use crate::models::{matched, Count, Window, COUNT_CAP};
use crate::schema::users;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub password_version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
    pub email_verified: bool,
    /// A confirmed TOTP secret: login takes a second step.
    pub mfa_enabled: bool,
    /// Goes up whenever the role, the password version, the email or the disabled
    /// flag changes: what pending credentials (reset links, a login's second step, an
    /// enrollment) are bound to.
    pub security_stamp: i64,
}

impl User {
    pub fn role(&self) -> RoleName {
        RoleName::from_stored(self.role.clone())
    }

    /// What `last_admin` counts: an enabled user whose role is `admin`.
    pub fn is_active_admin(&self) -> bool {
        self.role == ADMIN && !self.disabled
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub disabled: bool,
    pub password_version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub email_verified: bool,
}

/// Filters for the admin listing.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    /// Lowercased substring of the email.
    pub q: Option<String>,
    pub role: Option<RoleName>,
}

pub fn insert(conn: &mut Conn, new: &NewUser<'_>) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(new)
        .execute(conn)?;
    users::table
        .filter(users::email.eq(new.email))
        .select(User::as_select())
        .first(conn)
}

pub fn find(conn: &mut Conn, id: i64) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// The user's row, locked until the end of the transaction on PostgreSQL (`FOR
/// UPDATE`): a concurrent password change, disable, role change or deletion waits
/// for this transaction, or this one sees its result. SQLite transactions already
/// run one writer at a time.
pub fn lock(conn: &mut Conn, id: i64) -> QueryResult<Option<User>> {
    match conn {
        Conn::Postgres(pg) => users::table
            .find(id)
            .select(User::as_select())
            .for_update()
            .first(pg)
            .optional(),
        Conn::Sqlite(_) => users::table
            .find(id)
            .select(User::as_select())
            .first(conn)
            .optional(),
    }
}

pub fn find_by_email(conn: &mut Conn, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()
}

fn escape_like(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// An FTS5 phrase matching `q` as a substring (the trigram tokenizer turns it into
/// consecutive trigrams); quotes inside are doubled, so nothing in `q` is syntax.
fn fts_phrase(q: &str) -> String {
    format!("\"{}\"", q.replace('"', "\"\""))
}

/// The trigram index answers substrings of three characters or more.
const TRIGRAM: usize = 3;

fn filtered<'a>(filter: &UserFilter) -> users::BoxedQuery<'a, crate::db::MultiBackend> {
    let mut query = users::table.into_boxed();
    if let Some(q) = &filter.q {
        // On PostgreSQL the trigram index (pg_trgm) serves this LIKE.
        query = query.filter(users::email.like(escape_like(q)).escape('\\'));
    }
    if let Some(role) = &filter.role {
        query = query.filter(users::role.eq(role.as_str().to_string()));
    }
    query
}

/// One page ordered by id (stable), and how many users match (capped).
pub fn list(
    conn: &mut Conn,
    filter: &UserFilter,
    window: Window,
) -> QueryResult<(Vec<User>, Count)> {
    let count = match (&*conn, &filter.q) {
        (Conn::Sqlite(_), Some(q)) if q.chars().count() >= TRIGRAM => {
            return list_by_trigrams(conn, q, filter.role.as_ref(), window);
        }
        (Conn::Postgres(_), Some(_)) => match list_from_matching_ids(conn, filter, window)? {
            Ok(found) => return Ok(found),
            Err(capped) => capped,
        },
        _ => {
            let found: Vec<i32> = filtered(filter)
                .select(matched())
                .limit(COUNT_CAP + 1)
                .load(conn)?;
            Count::of(found.len() as i64)
        }
    };
    let query = filtered(filter).order(users::id.asc()).limit(window.limit);
    let query = match (window.after, window.offset) {
        (Some(after), _) => query.filter(users::id.gt(after)),
        (None, 0) => query,
        // A deep page by number: skip over ids alone (an index-only scan), then read
        // just the page's rows, instead of reading every skipped row in full.
        (None, offset) => {
            let first: Option<i64> = filtered(filter)
                .select(users::id)
                .order(users::id.asc())
                .offset(offset)
                .limit(1)
                .first(conn)
                .optional()?;
            match first {
                Some(first) => query.filter(users::id.ge(first)),
                None => return Ok((vec![], count)),
            }
        }
    };
    let items = query.select(User::as_select()).load(conn)?;
    Ok((items, count))
}

/// PostgreSQL's email search: one pass over the trigram index yields every matching
/// id when there are at most `COUNT_CAP`; they give the count and the page (read by
/// id), so the index is searched once, not twice. Unordered on purpose: `ORDER BY id`
/// would tempt the planner into walking the primary key instead of the index.
/// `Err(count)` when there are more: the caller pages the usual way, with that count.
fn list_from_matching_ids(
    conn: &mut Conn,
    filter: &UserFilter,
    window: Window,
) -> QueryResult<Result<(Vec<User>, Count), Count>> {
    let mut ids: Vec<i64> = filtered(filter)
        .select(users::id)
        .limit(COUNT_CAP + 1)
        .load(conn)?;
    let count = Count::of(ids.len() as i64);
    if count.capped {
        return Ok(Err(count));
    }
    ids.sort_unstable();
    let start = match window.after {
        Some(after) => ids.partition_point(|&id| id <= after),
        None => usize::try_from(window.offset).unwrap_or(usize::MAX),
    };
    let end = start.saturating_add(window.limit as usize).min(ids.len());
    let page = ids.get(start..end).unwrap_or_default();
    if page.is_empty() {
        return Ok(Ok((vec![], count)));
    }
    let items = users::table
        .filter(users::id.eq_any(page))
        .order(users::id.asc())
        .select(User::as_select())
        .load(conn)?;
    Ok(Ok((items, count)))
}

/// SQLite's email search: the FTS5 trigram index drives the query in id order, so a
/// page stops after its rows even when nearly every email matches.
fn list_by_trigrams(
    conn: &mut Conn,
    q: &str,
    role: Option<&RoleName>,
    window: Window,
) -> QueryResult<(Vec<User>, Count)> {
    use diesel::sql_types::{BigInt, Nullable, Text};
    const MATCHES: &str = "FROM users_email_fts f JOIN users u ON u.id = f.rowid \
         WHERE f.email MATCH ? AND (? IS NULL OR u.role = ?)";
    let phrase = fts_phrase(q);
    let role = role.map(|r| r.as_str().to_string());
    let found = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM (SELECT 1 {MATCHES} LIMIT ?)"
    ))
    .bind::<Text, _>(&phrase)
    .bind::<Nullable<Text>, _>(&role)
    .bind::<Nullable<Text>, _>(&role)
    .bind::<BigInt, _>(COUNT_CAP + 1)
    .get_result::<Counted>(conn)?
    .n;
    let items = diesel::sql_query(format!(
        "SELECT u.* {MATCHES} AND f.rowid > ? ORDER BY f.rowid LIMIT ? OFFSET ?"
    ))
    .bind::<Text, _>(&phrase)
    .bind::<Nullable<Text>, _>(&role)
    .bind::<Nullable<Text>, _>(&role)
    .bind::<BigInt, _>(window.after.unwrap_or(0))
    .bind::<BigInt, _>(window.limit)
    .bind::<BigInt, _>(if window.after.is_some() {
        0
    } else {
        window.offset
    })
    .load::<User>(conn)?;
    Ok((items, Count::of(found)))
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

pub fn any_admin(conn: &mut Conn) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::role.eq(ADMIN)),
    ))
    .get_result(conn)
}

/// Ids of the enabled admins. On PostgreSQL the rows are locked until the end of the
/// transaction, so two admins demoting each other at once cannot both succeed;
/// SQLite transactions already run one writer at a time.
pub fn lock_active_admins(conn: &mut Conn) -> QueryResult<Vec<i64>> {
    let query = users::table
        .filter(users::role.eq(ADMIN))
        .filter(users::disabled.eq(false))
        .select(users::id)
        .order(users::id.asc());
    match conn {
        Conn::Postgres(pg) => query.for_update().load(pg),
        Conn::Sqlite(_) => query.load(conn),
    }
}

/// The columns an admin PATCH may change; `None` leaves a column as it is, so two
/// concurrent patches of different fields never write back each other's snapshot.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges<'a> {
    pub role: Option<&'a str>,
    pub disabled: Option<bool>,
    pub email_verified: Option<bool>,
    pub updated_at: Option<NaiveDateTime>,
}

/// Applies `changes`. A change of role or of the disabled flag also moves the
/// security stamp: every pending link, second step and enrollment of the account dies.
pub fn update(tx: &mut AuthTx<'_>, id: i64, changes: &UserChanges<'_>) -> QueryResult<usize> {
    tx.record(Change::User(id));
    let target = users::table.find(id);
    match changes.role.is_some() || changes.disabled.is_some() {
        true => diesel::update(target)
            .set((changes, users::security_stamp.eq(users::security_stamp + 1)))
            .execute(&mut **tx),
        false => diesel::update(target).set(changes).execute(&mut **tx),
    }
}

/// Stores a new hash and bumps the password version (and the security stamp), but
/// only if the version is still `expected_version` (a concurrent change makes this
/// return 0).
pub fn set_password(
    tx: &mut AuthTx<'_>,
    id: i64,
    hash: &str,
    expected_version: i32,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    tx.record(Change::User(id));
    diesel::update(
        users::table
            .find(id)
            .filter(users::password_version.eq(expected_version)),
    )
    .set((
        users::password_hash.eq(hash),
        users::password_version.eq(expected_version + 1),
        users::security_stamp.eq(users::security_stamp + 1),
        users::updated_at.eq(now),
    ))
    .execute(&mut **tx)
}

/// Marks the address verified (a confirmed link, a reset): the cached row shows it.
pub fn set_email_verified(tx: &mut AuthTx<'_>, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    tx.record(Change::User(id));
    diesel::update(
        users::table
            .find(id)
            .filter(users::email_verified.eq(false)),
    )
    .set((users::email_verified.eq(true), users::updated_at.eq(now)))
    .execute(&mut **tx)
}

/// Turns the second factor on or off: login reads it from the row, and the cached
/// row shows it (`mfa_enabled` in the profile).
pub fn set_mfa_enabled(
    tx: &mut AuthTx<'_>,
    id: i64,
    enabled: bool,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    tx.record(Change::User(id));
    diesel::update(users::table.find(id))
        .set((users::mfa_enabled.eq(enabled), users::updated_at.eq(now)))
        .execute(&mut **tx)
}

/// The cached row shows `last_login_at` (`GET /api/profile`), so this is a change too.
pub fn touch_last_login(tx: &mut AuthTx<'_>, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    tx.record(Change::User(id));
    diesel::update(users::table.find(id))
        .set(users::last_login_at.eq(now))
        .execute(&mut **tx)
}

/// Deletes the account; its sessions and refresh tokens go with it (ON DELETE CASCADE).
pub fn delete(tx: &mut AuthTx<'_>, id: i64) -> QueryResult<usize> {
    tx.record(Change::User(id));
    tx.record(Change::AllSessions(id));
    diesel::delete(users::table.find(id)).execute(&mut **tx)
}

pub struct UserCounts {
    pub total: i64,
    pub admins: i64,
    pub disabled: i64,
    pub mfa_enabled: i64,
}

/// The counts the triggers on `users` keep in `user_stats` (one row read, no scan).
pub fn counts(conn: &mut Conn) -> QueryResult<UserCounts> {
    use crate::schema::user_stats;
    let (total, admins, disabled, mfa_enabled) = user_stats::table
        .find(1)
        .select((
            user_stats::total,
            user_stats::admins,
            user_stats::disabled,
            user_stats::mfa_enabled,
        ))
        .first(conn)?;
    Ok(UserCounts {
        total,
        admins,
        disabled,
        mfa_enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::{escape_like, fts_phrase};

    #[test]
    fn like_wildcards_in_searches_are_taken_literally() {
        assert_eq!(escape_like("a_b%c"), "%a\\_b\\%c%");
        assert_eq!(escape_like("plain"), "%plain%");
    }

    #[test]
    fn a_search_is_one_fts_phrase_whatever_it_holds() {
        assert_eq!(fts_phrase("user42"), "\"user42\"");
        assert_eq!(fts_phrase("a\" OR b"), "\"a\"\" OR b\"");
    }
}
