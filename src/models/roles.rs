//! The `roles` and `role_permissions` tables: named sets of permissions.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::Conn;
use crate::models::auth_state::{AuthTx, Change};
use crate::schema::{role_permissions, roles, users};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = roles)]
pub struct RoleRow {
    pub name: String,
    pub description: String,
    pub builtin: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A role with its permissions and how many users hold it.
#[derive(Debug, Clone)]
pub struct Role {
    pub row: RoleRow,
    pub permissions: Vec<String>,
    pub users: i64,
}

/// Every role's permissions, by role name: what authorisation reads (through the
/// auth cache). One query.
pub fn permission_table(conn: &mut Conn) -> QueryResult<BTreeMap<String, Vec<String>>> {
    let names: Vec<String> = roles::table.select(roles::name).load(conn)?;
    let mut table: BTreeMap<String, Vec<String>> =
        names.into_iter().map(|n| (n, Vec::new())).collect();
    let pairs: Vec<(String, String)> = role_permissions::table
        .select((role_permissions::role, role_permissions::permission))
        .order((role_permissions::role, role_permissions::permission))
        .load(conn)?;
    for (role, permission) in pairs {
        table.entry(role).or_default().push(permission);
    }
    Ok(table)
}

fn permissions_of(conn: &mut Conn, name: &str) -> QueryResult<Vec<String>> {
    role_permissions::table
        .filter(role_permissions::role.eq(name))
        .select(role_permissions::permission)
        .order(role_permissions::permission)
        .load(conn)
}

fn holders(conn: &mut Conn, name: &str) -> QueryResult<i64> {
    users::table
        .filter(users::role.eq(name))
        .count()
        .get_result(conn)
}

pub fn find(conn: &mut Conn, name: &str) -> QueryResult<Option<Role>> {
    let Some(row) = roles::table
        .find(name)
        .select(RoleRow::as_select())
        .first(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let permissions = permissions_of(conn, name)?;
    let users = holders(conn, name)?;
    Ok(Some(Role {
        row,
        permissions,
        users,
    }))
}

/// The role's row, locked until the end of the transaction on PostgreSQL, so that
/// a change or deletion of it and an assignment of it run one after another.
pub fn lock(conn: &mut Conn, name: &str) -> QueryResult<Option<RoleRow>> {
    match conn {
        Conn::Postgres(pg) => roles::table
            .find(name)
            .select(RoleRow::as_select())
            .for_update()
            .first(pg)
            .optional(),
        Conn::Sqlite(_) => roles::table
            .find(name)
            .select(RoleRow::as_select())
            .first(conn)
            .optional(),
    }
}

/// The role's row, share-locked until the end of the transaction on PostgreSQL: it
/// cannot be deleted before a user given this role is committed.
pub fn lock_shared(conn: &mut Conn, name: &str) -> QueryResult<Option<RoleRow>> {
    match conn {
        Conn::Postgres(pg) => roles::table
            .find(name)
            .select(RoleRow::as_select())
            .for_share()
            .first(pg)
            .optional(),
        Conn::Sqlite(_) => roles::table
            .find(name)
            .select(RoleRow::as_select())
            .first(conn)
            .optional(),
    }
}

pub fn exists(conn: &mut Conn, name: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(roles::table.find(name))).get_result(conn)
}

/// The permissions a role grants.
pub fn permissions(conn: &mut Conn, name: &str) -> QueryResult<Vec<String>> {
    permissions_of(conn, name)
}

/// Every role, by name, with permissions and holder counts (three queries).
pub fn list(conn: &mut Conn) -> QueryResult<Vec<Role>> {
    let rows: Vec<RoleRow> = roles::table
        .select(RoleRow::as_select())
        .order(roles::name)
        .load(conn)?;
    let mut permissions = permission_table(conn)?;
    let counts: BTreeMap<String, i64> = users::table
        .group_by(users::role)
        .select((users::role, diesel::dsl::count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| Role {
            permissions: permissions.remove(&row.name).unwrap_or_default(),
            users: counts.get(&row.name).copied().unwrap_or(0),
            row,
        })
        .collect())
}

/// Every permission some role grants.
pub fn used_permissions(conn: &mut Conn) -> QueryResult<Vec<String>> {
    role_permissions::table
        .select(role_permissions::permission)
        .distinct()
        .order(role_permissions::permission)
        .load(conn)
}

fn set_permissions(tx: &mut AuthTx<'_>, name: &str, permissions: &[String]) -> QueryResult<()> {
    diesel::delete(role_permissions::table.filter(role_permissions::role.eq(name)))
        .execute(&mut **tx)?;
    for p in permissions {
        diesel::insert_into(role_permissions::table)
            .values((
                role_permissions::role.eq(name),
                role_permissions::permission.eq(p),
            ))
            .execute(&mut **tx)?;
    }
    Ok(())
}

/// Creates a role; a name already taken is a unique violation.
pub fn create(
    tx: &mut AuthTx<'_>,
    name: &str,
    description: &str,
    permissions: &[String],
    at: NaiveDateTime,
) -> QueryResult<()> {
    tx.record(Change::Roles);
    diesel::insert_into(roles::table)
        .values((
            roles::name.eq(name),
            roles::description.eq(description),
            roles::builtin.eq(false),
            roles::created_at.eq(at),
            roles::updated_at.eq(at),
        ))
        .execute(&mut **tx)?;
    set_permissions(tx, name, permissions)
}

/// Changes a role's description and/or permissions (`None` leaves it as it is).
pub fn update(
    tx: &mut AuthTx<'_>,
    name: &str,
    description: Option<&str>,
    permissions: Option<&[String]>,
    at: NaiveDateTime,
) -> QueryResult<()> {
    tx.record(Change::Roles);
    if let Some(d) = description {
        diesel::update(roles::table.find(name))
            .set(roles::description.eq(d))
            .execute(&mut **tx)?;
    }
    if let Some(p) = permissions {
        set_permissions(tx, name, p)?;
    }
    diesel::update(roles::table.find(name))
        .set(roles::updated_at.eq(at))
        .execute(&mut **tx)?;
    Ok(())
}

/// Deletes a role; one a user still holds is a foreign-key violation.
pub fn delete(tx: &mut AuthTx<'_>, name: &str) -> QueryResult<usize> {
    tx.record(Change::Roles);
    diesel::delete(roles::table.find(name)).execute(&mut **tx)
}

/// How many users hold the role.
pub fn holder_count(conn: &mut Conn, name: &str) -> QueryResult<i64> {
    holders(conn, name)
}
