//! Upgrading a database that holds data: a v1 database (the migrations before roles)
//! with users, sessions and refresh tokens is migrated by the server's own migrate
//! step; every user keeps its role and nothing that referenced the users is lost. And
//! several instances starting at once on a fresh PostgreSQL database all come up.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use diesel_migrations::{FileBasedMigrations, MigrationHarness};

use turnstile::db::Db;
use turnstile::settings::DatabaseSettings;

/// The v1 migrations: everything before roles became data.
const V1_MIGRATIONS: usize = 2;

const V1_DATA: &str = "
    INSERT INTO users (id, email, password_hash, role, disabled, password_version, created_at, updated_at)
    VALUES (1, 'boss@example.com', 'x', 'admin', false, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
           (2, 'ann@example.com', 'x', 'user', false, 3, '2026-01-01 00:00:00', '2026-01-01 00:00:00'),
           (3, 'old@example.com', 'x', 'admin', true, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00');
    INSERT INTO sessions (id, user_id, password_version, created_at, last_used_at, expires_at)
    VALUES ('s-ann', 2, 3, '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2099-01-01 00:00:00');
    INSERT INTO refresh_tokens (session_id, token_hash, issued_at)
    VALUES ('s-ann', 'h-ann', '2026-01-01 00:00:00');
";

/// The repository's migrations of one backend, read from disk (applied one at a time).
fn v1_source(backend: &str) -> FileBasedMigrations {
    let dir = format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR"));
    FileBasedMigrations::from_path(dir).unwrap()
}

fn settings(url: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: url.to_string(),
        pool_size: 1,
        connect_timeout_secs: 5.try_into().unwrap(),
    }
}

#[test]
fn a_v1_sqlite_database_keeps_every_user_role_session_and_token() {
    let dir = std::env::temp_dir().join(format!("turnstile-upgrade-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("v1.db");
    let _ = std::fs::remove_file(&path);
    {
        let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
        conn.batch_execute("PRAGMA foreign_keys = ON;").unwrap();
        for _ in 0..V1_MIGRATIONS {
            conn.run_next_migration(v1_source("sqlite")).unwrap();
        }
        conn.batch_execute(V1_DATA).unwrap();
    }
    let db = Db::connect(&settings(&format!("sqlite://{}", path.display()))).unwrap();
    let applied = db.migrate().unwrap();
    assert!(
        !applied.is_empty(),
        "the roles, email and MFA migrations ran"
    );
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    conn.batch_execute("PRAGMA foreign_keys = ON;").unwrap();
    verify_sqlite(&mut conn);
    let _ = std::fs::remove_dir_all(&dir);
}

#[derive(diesel::QueryableByName, Debug, PartialEq)]
struct UserRole {
    #[diesel(sql_type = diesel::sql_types::Text)]
    email: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    role: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

const USERS: &str = "SELECT email, role FROM users ORDER BY id";
const SESSIONS: &str = "SELECT count(*) AS n FROM sessions";
const TOKENS: &str = "SELECT count(*) AS n FROM refresh_tokens";
const GHOST: &str = "INSERT INTO users (email, password_hash, role, disabled, password_version, created_at, updated_at)
                     VALUES ('ghost@example.com', 'x', 'ghost', false, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')";
/// Accounts from before email existed: their addresses were never verified.
const UNVERIFIED: &str = "SELECT count(*) AS n FROM users WHERE NOT email_verified";
/// Sessions from before MFA passed a password alone; nobody has a second factor yet.
const PASSWORD_ONLY: &str = "SELECT count(*) AS n FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.amr = 'pwd' AND NOT u.mfa_enabled";
/// The counts kept for stats start from the existing rows: 3 users, 2 admins, 1 disabled.
const STATS: &str =
    "SELECT total * 1000 + admins * 100 + disabled * 10 + mfa_enabled AS n FROM user_stats";
/// Existing emails are in the search index (SQLite's FTS5 table).
const SEARCHABLE: &str =
    "SELECT count(*) AS n FROM users_email_fts WHERE users_email_fts MATCH '\"ann@exa\"'";
const ADMIN_PERMISSIONS: &str =
    "SELECT count(*) AS n FROM role_permissions WHERE role = 'admin' AND permission = '*'";

fn expected_users() -> Vec<UserRole> {
    [
        ("boss@example.com", "admin"),
        ("ann@example.com", "user"),
        ("old@example.com", "admin"),
    ]
    .into_iter()
    .map(|(e, r)| UserRole {
        email: e.into(),
        role: r.into(),
    })
    .collect()
}

fn verify_sqlite(conn: &mut SqliteConnection) {
    let users: Vec<UserRole> = diesel::sql_query(USERS).load(conn).unwrap();
    assert_eq!(users, expected_users());
    let n = |conn: &mut SqliteConnection, q: &str| {
        diesel::sql_query(q).get_result::<Count>(conn).unwrap().n
    };
    assert_eq!(
        n(conn, SESSIONS),
        1,
        "sessions survived the rebuild of users"
    );
    assert_eq!(n(conn, TOKENS), 1, "refresh tokens survived too");
    assert_eq!(n(conn, STATS), 3210, "stats count the existing users");
    assert_eq!(n(conn, SEARCHABLE), 1, "existing emails can be searched");
    assert_eq!(n(conn, ADMIN_PERMISSIONS), 1);
    assert_eq!(
        n(conn, UNVERIFIED),
        3,
        "existing addresses start unverified"
    );
    assert!(
        diesel::sql_query(GHOST).execute(conn).is_err(),
        "a role that does not exist is refused"
    );
    // The cascade still works after the rebuild: deleting a user deletes its sessions.
    diesel::sql_query("DELETE FROM users WHERE id = 2")
        .execute(conn)
        .unwrap();
    assert_eq!(n(conn, SESSIONS), 0);
    assert_eq!(n(conn, STATS), 2210, "the triggers count deletions");
    assert_eq!(
        n(conn, SEARCHABLE),
        0,
        "deleted users leave the search index"
    );
}

/// The PostgreSQL server's admin URL and a connection to it; `None` (with a notice)
/// when it is unreachable outside CI.
fn postgres_admin() -> Option<(String, PgConnection)> {
    let admin_url = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    match PgConnection::establish(&admin_url) {
        Ok(c) => Some((admin_url, c)),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
            panic!("PostgreSQL is required in CI: {e}")
        }
        Err(e) => {
            eprintln!("NOTICE: PostgreSQL unreachable ({e}); skipping");
            None
        }
    }
}

#[test]
fn instances_starting_together_on_a_fresh_postgres_database_all_migrate_it() {
    let Some((admin_url, mut admin)) = postgres_admin() else {
        return;
    };
    let name = format!("turnstile_together_{}", std::process::id());
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\""))
        .execute(&mut admin)
        .unwrap();
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .unwrap();
    let root = admin_url
        .rsplit_once('/')
        .map(|(r, _)| r)
        .unwrap_or(&admin_url);
    let url = format!("{root}/{name}");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let db = Db::connect(&settings(&url)).unwrap();
                barrier.wait();
                db.migrate().map(|applied| applied.len())
            })
        })
        .collect();
    let applied: Vec<usize> = runs
        .into_iter()
        .map(|r| r.join().unwrap().expect("every instance starts"))
        .collect();
    // One of them applied everything; the others found nothing left to do.
    assert_eq!(applied.iter().filter(|&&n| n > 0).count(), 1, "{applied:?}");
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
}

#[test]
fn a_v1_postgres_database_keeps_every_user_role_session_and_token() {
    let Some((admin_url, mut admin)) = postgres_admin() else {
        return;
    };
    let name = format!("turnstile_upgrade_{}", std::process::id());
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\""))
        .execute(&mut admin)
        .unwrap();
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .unwrap();
    let root = admin_url
        .rsplit_once('/')
        .map(|(r, _)| r)
        .unwrap_or(&admin_url);
    let url = format!("{root}/{name}");
    {
        let mut conn = PgConnection::establish(&url).unwrap();
        for _ in 0..V1_MIGRATIONS {
            conn.run_next_migration(v1_source("postgres")).unwrap();
        }
        conn.batch_execute(V1_DATA).unwrap();
    }
    {
        let db = Db::connect(&settings(&url)).unwrap();
        assert!(!db.migrate().unwrap().is_empty());
    }
    {
        let mut conn = PgConnection::establish(&url).unwrap();
        let users: Vec<UserRole> = diesel::sql_query(USERS).load(&mut conn).unwrap();
        assert_eq!(users, expected_users());
        let mut n = |q: &str| {
            diesel::sql_query(q)
                .get_result::<Count>(&mut conn)
                .unwrap()
                .n
        };
        assert_eq!(n(SESSIONS), 1);
        assert_eq!(n(TOKENS), 1);
        assert_eq!(n(STATS), 3210, "stats count the existing users");
        assert_eq!(n(ADMIN_PERMISSIONS), 1);
        assert_eq!(n(UNVERIFIED), 3, "existing addresses start unverified");
        assert_eq!(
            n(PASSWORD_ONLY),
            1,
            "existing sessions passed a password alone"
        );
        assert!(diesel::sql_query(GHOST).execute(&mut conn).is_err());
    }
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
}
