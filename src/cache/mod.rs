//! The in-process cache of what the bearer middleware checks on every request: the
//! user's current row (role, disabled, password version, profile) and the session's
//! state. A hit costs no database round-trip. Bounded (LRU-like, by entry count) with
//! a TTL as a safety net; auth-state writes invalidate entries explicitly (see
//! `models::auth_state` and `change_feed`), and every value handed out is checked against
//! the invalidation marks (`invalidation_marks`) rather than trusting the map's own invalidation.

mod invalidation_marks;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use foldhash::fast::RandomState;
use moka::sync::Cache;
use tokio::sync::Notify;

use self::invalidation_marks::{Loaded, Mark, Marks, Subject};
use crate::domain::PermissionSet;
use crate::models::auth_state::Change;
use crate::models::sessions::Session;
use crate::models::users::User;

#[derive(Debug, Clone)]
pub struct SessionState {
    pub user_id: i64,
    pub revoked: bool,
    pub expires_at: NaiveDateTime,
}

impl From<&Session> for SessionState {
    fn from(s: &Session) -> Self {
        SessionState {
            user_id: s.user_id,
            revoked: s.revoked_at.is_some(),
            expires_at: s.expires_at,
        }
    }
}

/// Every role's permissions, by role name.
pub type RoleTable = BTreeMap<String, Arc<PermissionSet>>;

/// What the bearer middleware checks about an API key.
#[derive(Debug)]
pub struct ApiKeyState {
    pub id: i64,
    /// The key's own permissions; what it may do is these and its owner's, both.
    pub permissions: Arc<PermissionSet>,
    /// The person the key acts for: whoever created it (or created the key that
    /// created it). `None` once that person is deleted.
    pub owner: Option<i64>,
    pub expires_at: Option<NaiveDateTime>,
    /// When `last_used_at` was last written (Unix seconds), so it is written about
    /// once a minute rather than on every request.
    pub last_written: AtomicI64,
}

pub struct AuthCache {
    users: Cache<i64, Loaded<Arc<User>>, RandomState>,
    sessions: Cache<String, Loaded<SessionState>, RandomState>,
    /// API keys by their hash; `None` remembers a hash that is no key's (a key's hash
    /// cannot be asked for before the key exists: it is 256 random bits).
    api_keys: Cache<String, Loaded<Option<Arc<ApiKeyState>>>, RandomState>,
    marks: Marks,
    /// Roles are few: the whole table is loaded at once, and dropped on any role
    /// change, so a change of a role's permissions holds from the next request.
    roles: RwLock<Option<(Instant, Arc<RoleTable>)>>,
    /// The safety-net lifetime of every entry, the role table included.
    ttl: Duration,
    /// Bumped by every invalidation. A value read from the database before a bump
    /// is not handed out after it if the bump's marks concern it.
    epoch: AtomicU64,
    /// Invalidations take turns: bump, then mark, in epoch order.
    applying: Mutex<()>,
    hits: AtomicU64,
    misses: AtomicU64,
    /// Random per process: marks this instance's own change broadcasts.
    instance: String,
    /// Wakes whoever reloads the signing keys after a `Change::Keys`.
    keys_changed: Notify,
}

impl AuthCache {
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Notified when the signing keys changed (here or on another instance).
    pub fn keys_changed(&self) -> &Notify {
        &self.keys_changed
    }

    pub fn new(capacity: u64, ttl: Duration) -> AuthCache {
        AuthCache {
            users: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build_with_hasher(RandomState::default()),
            sessions: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build_with_hasher(RandomState::default()),
            api_keys: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build_with_hasher(RandomState::default()),
            marks: Marks::new(ttl, capacity),
            roles: RwLock::new(None),
            ttl,
            epoch: AtomicU64::new(0),
            applying: Mutex::new(()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            instance: crate::secret::new_id(),
            keys_changed: Notify::new(),
        }
    }

    /// Both entries, or `None` (a miss) if either is absent.
    pub fn get(&self, user_id: i64, session_id: &str) -> Option<(Arc<User>, SessionState)> {
        let found = self.users.get(&user_id).and_then(|user| {
            let session = self.sessions.get(session_id)?;
            let now = Instant::now();
            let current = self.current(&user, Subject::User(user_id), now)
                && self.current(
                    &session,
                    Subject::Session {
                        id: session_id,
                        user_id: session.value.user_id,
                    },
                    now,
                );
            current.then_some((user.value, session.value))
        });
        self.counted(found)
    }

    /// A user's current row, by id alone (an API key's owner), or `None` (a miss).
    pub fn user(&self, user_id: i64) -> Option<Arc<User>> {
        let found = self
            .users
            .get(&user_id)
            .filter(|u| self.current(u, Subject::User(user_id), Instant::now()))
            .map(|u| u.value);
        self.counted(found)
    }

    /// Stores a user's row a loader read; `epoch` is [`AuthCache::epoch`] taken before
    /// the read.
    pub fn fill_user(&self, epoch: u64, user: Arc<User>) {
        if let Some(at) = self.storable(epoch) {
            self.users.insert(user.id, Loaded::new(epoch, at, user));
        }
    }

    /// The permissions of `role`, or `None` when the role table is not loaded. A role
    /// the table does not know grants nothing.
    pub fn role_permissions(&self, role: &str) -> Option<Arc<PermissionSet>> {
        let table = self.roles.read().unwrap_or_else(|p| p.into_inner());
        let (loaded, table) = table.as_ref()?;
        if loaded.elapsed() >= self.ttl {
            return None;
        }
        Some(table.get(role).cloned().unwrap_or_default())
    }

    /// Stores a role table a loader read, unless an invalidation happened since `epoch`.
    pub fn fill_roles(&self, epoch: u64, table: RoleTable) {
        let mut slot = self.roles.write().unwrap_or_else(|p| p.into_inner());
        // Checked under the lock: `apply` clears the slot under it too.
        if self.epoch() == epoch {
            *slot = Some((Instant::now(), Arc::new(table)));
        }
    }

    fn drop_roles(&self) {
        *self.roles.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Counts a lookup as a hit or a miss.
    fn counted<T>(&self, found: Option<T>) -> Option<T> {
        let counter = match found {
            Some(_) => &self.hits,
            None => &self.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Whether a cached value may be handed out: younger than the TTL (the map's own
    /// expiry is not trusted either) and loaded after every invalidation of it.
    fn current<V>(&self, loaded: &Loaded<V>, subject: Subject<'_>, now: Instant) -> bool {
        now.saturating_duration_since(loaded.at) < self.ttl
            && self.marks.passes(subject, loaded.epoch)
    }

    /// The API key with this hash: `Some(None)` when it is known to be no key's,
    /// `None` when the database must be asked.
    pub fn api_key(&self, hash: &str) -> Option<Option<Arc<ApiKeyState>>> {
        let found = self
            .api_keys
            .get(hash)
            .filter(|k| self.current(k, Subject::ApiKey, Instant::now()))
            .map(|k| k.value);
        self.counted(found)
    }

    /// Stores what a loader read about a key; `epoch` is [`AuthCache::epoch`] taken
    /// before the read.
    pub fn fill_api_key(&self, epoch: u64, hash: &str, key: Option<Arc<ApiKeyState>>) {
        let Some(at) = self.storable(epoch) else {
            return;
        };
        self.api_keys
            .insert(hash.to_string(), Loaded::new(epoch, at, key));
    }

    /// Stores what a loader read; `epoch` is [`AuthCache::epoch`] taken before the
    /// read.
    pub fn fill(&self, epoch: u64, user: Arc<User>, session_id: &str, session: SessionState) {
        let Some(at) = self.storable(epoch) else {
            return;
        };
        self.users.insert(user.id, Loaded::new(epoch, at, user));
        self.sessions
            .insert(session_id.to_string(), Loaded::new(epoch, at, session));
    }

    /// The time a value loaded at `epoch` is aged from, or `None` when an
    /// invalidation came since (it may be stale already: not worth storing). Taken
    /// just after finding the epoch current, so any mark that refuses the value is
    /// younger than this (by at most that instant): the mark, kept a TTL and a
    /// second, outlives the value.
    fn storable(&self, epoch: u64) -> Option<Instant> {
        (self.epoch() == epoch).then(Instant::now)
    }

    /// Invalidates what `changes` concern: from this call's return, nothing loaded
    /// before it that they concern is handed out (the marks), and the map entries
    /// are dropped to free their room.
    pub fn apply(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let _turn = self.applying.lock().unwrap_or_else(|p| p.into_inner());
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        let marks: Vec<Mark<'_>> = changes
            .iter()
            .filter_map(|change| match change {
                Change::User(id) => Some(Mark::User(*id)),
                Change::Session(sid) => Some(Mark::Session(sid)),
                Change::AllSessions(id) => Some(Mark::SessionsOf(*id)),
                Change::ApiKey(_) => Some(Mark::ApiKeys),
                Change::Roles | Change::Keys => None,
            })
            .collect();
        self.marks.mark(epoch, &marks);
        for change in changes {
            match change {
                Change::User(id) => self.users.invalidate(id),
                Change::Session(sid) => self.sessions.invalidate(sid),
                // The role table is reloaded whole, under its own lock.
                Change::Roles => self.drop_roles(),
                // The key ring is reloaded by its own task, woken here.
                Change::Keys => self.keys_changed.notify_one(),
                // Keys are few and deleted rarely: all of them are marked.
                Change::ApiKey(_) => self.api_keys.invalidate_all(),
                // The mark refuses them; the entries expire by themselves.
                Change::AllSessions(_) => {}
            }
        }
    }

    /// Forgets everything: after a lost change feed, nothing cached can be trusted.
    pub fn clear(&self) {
        let _turn = self.applying.lock().unwrap_or_else(|p| p.into_inner());
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        self.marks.mark(epoch, &[Mark::Everything]);
        self.users.invalidate_all();
        self.sessions.invalidate_all();
        self.api_keys.invalidate_all();
        self.drop_roles();
        self.keys_changed.notify_one();
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn user(id: i64) -> Arc<User> {
        let now = Utc::now().naive_utc();
        Arc::new(User {
            id,
            email: format!("u{id}@example.com"),
            password_hash: String::new(),
            role: "user".into(),
            disabled: false,
            password_version: 1,
            created_at: now,
            updated_at: now,
            last_login_at: None,
            email_verified: false,
            mfa_enabled: false,
            security_stamp: 0,
        })
    }

    fn session(user_id: i64) -> SessionState {
        SessionState {
            user_id,
            revoked: false,
            expires_at: Utc::now().naive_utc(),
        }
    }

    fn cache() -> AuthCache {
        AuthCache::new(100, Duration::from_secs(60))
    }

    #[test]
    fn a_filled_entry_is_a_hit_until_invalidated() {
        let c = cache();
        assert!(c.get(1, "s").is_none());
        c.fill(c.epoch(), user(1), "s", session(1));
        assert!(c.get(1, "s").is_some());
        c.apply(&[Change::User(1)]);
        assert!(c.get(1, "s").is_none());
        assert_eq!((c.hits(), c.misses()), (1, 2));
    }

    #[test]
    fn revoking_all_sessions_of_a_user_spares_other_users() {
        let c = cache();
        c.fill(c.epoch(), user(1), "a", session(1));
        c.fill(c.epoch(), user(2), "b", session(2));
        c.apply(&[Change::AllSessions(1)]);
        assert!(c.get(1, "a").is_none());
        assert!(c.get(2, "b").is_some());
    }

    #[test]
    fn the_role_table_is_dropped_by_a_role_change_and_not_stored_after_one() {
        let c = cache();
        assert!(c.role_permissions("user").is_none(), "not loaded yet");
        let table = |perms: &[&str]| {
            let set = PermissionSet::new(perms.iter().map(|p| p.to_string()));
            RoleTable::from([("user".to_string(), Arc::new(set))])
        };
        c.fill_roles(c.epoch(), table(&["notes:read"]));
        assert!(c.role_permissions("user").unwrap().allows("notes:read"));
        assert!(c.role_permissions("gone").unwrap().iter().next().is_none());
        c.apply(&[Change::Roles]);
        assert!(c.role_permissions("user").is_none());
        let epoch = c.epoch();
        c.apply(&[Change::Roles]);
        c.fill_roles(epoch, table(&["stale:read"]));
        assert!(
            c.role_permissions("user").is_none(),
            "a load that raced a change is dropped"
        );
    }

    #[test]
    fn a_load_that_raced_an_invalidation_is_not_stored() {
        let c = cache();
        let epoch = c.epoch();
        c.apply(&[Change::Session("other".into())]);
        c.fill(epoch, user(1), "s", session(1));
        assert!(c.get(1, "s").is_none());
    }

    fn api_key(id: i64) -> Arc<ApiKeyState> {
        Arc::new(ApiKeyState {
            id,
            permissions: Arc::default(),
            owner: Some(1),
            expires_at: None,
            last_written: AtomicI64::new(0),
        })
    }

    /// Runs `round` many times with a second thread, both released at once: the
    /// races below are instants wide.
    fn race(
        round: impl Fn(&Arc<AuthCache>) -> Box<dyn FnOnce() + Send>,
        check: impl Fn(&AuthCache),
    ) {
        for _ in 0..3000 {
            let c = Arc::new(cache());
            let other = round(&c);
            let start = Arc::new(std::sync::Barrier::new(2));
            let go = Arc::clone(&start);
            let t = std::thread::spawn(move || {
                go.wait();
                other();
            });
            start.wait();
            for _ in 0..100 {
                check(&c);
            }
            t.join().unwrap();
        }
    }

    #[test]
    fn a_deleted_key_is_never_handed_out_again_while_fresh_loads_replace_it() {
        race(
            |c| {
                c.fill_api_key(c.epoch(), "h", Some(api_key(1)));
                c.apply(&[Change::ApiKey(1)]);
                let c = Arc::clone(c);
                Box::new(move || c.fill_api_key(c.epoch(), "h", None))
            },
            |c| {
                assert!(
                    !matches!(c.api_key("h"), Some(Some(_))),
                    "deleted key served"
                )
            },
        );
    }

    #[test]
    fn a_revoked_session_is_never_handed_out_again_while_fresh_loads_replace_it() {
        race(
            |c| {
                c.fill(c.epoch(), user(1), "s", session(1));
                c.apply(&[Change::AllSessions(1)]);
                let c = Arc::clone(c);
                Box::new(move || {
                    let revoked = SessionState {
                        revoked: true,
                        ..session(1)
                    };
                    c.fill(c.epoch(), user(1), "s", revoked)
                })
            },
            |c| {
                if let Some((_, s)) = c.get(1, "s") {
                    assert!(s.revoked, "revoked session served as live");
                }
            },
        );
    }
}
