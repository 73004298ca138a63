//! Locks on names rather than rows, for decisions that span rows (a count, then an
//! insert): PostgreSQL transaction-scoped advisory locks, held until the transaction
//! ends, so every instance on the database takes turns. On SQLite, write
//! transactions already run one at a time.

use diesel::sql_types::BigInt;
use diesel::{QueryResult, RunQueryDsl};
use sha2::{Digest, Sha256};

use crate::db::Conn;

/// Locks `keys` of `namespace`, in a fixed order so that two transactions sharing a
/// key cannot deadlock. Call inside a transaction.
pub fn lock(conn: &mut Conn, namespace: &str, keys: &[&str]) -> QueryResult<()> {
    let Conn::Postgres(pg) = conn else {
        return Ok(());
    };
    let mut ids: Vec<i64> = keys.iter().map(|k| lock_id(namespace, k)).collect();
    ids.sort_unstable();
    ids.dedup();
    for id in ids {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(id)
            .execute(pg)?;
    }
    Ok(())
}

/// A 64-bit lock id per name. A collision only serialises two unrelated names.
fn lock_id(namespace: &str, key: &str) -> i64 {
    let digest = Sha256::digest(format!("turnstile {namespace} {key}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::lock_id;

    #[test]
    fn lock_ids_are_stable_and_tell_names_apart() {
        assert_eq!(lock_id("a", "x"), lock_id("a", "x"));
        assert_ne!(lock_id("a", "x"), lock_id("b", "x"));
        assert_ne!(lock_id("a", "x"), lock_id("a", "y"));
    }
}
