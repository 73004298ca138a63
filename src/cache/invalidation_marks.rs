//! Invalidation marks: what lets the auth cache judge every value it hands out by
//! itself, instead of trusting moka's invalidation.
//!
//! moka invalidates lazily (`invalidate_all` and predicates compare timestamps), and
//! an insert that replaces an entry refreshes the timestamps the old value shares
//! before the new value is published: for that instant a concurrent `get` returns
//! the invalidated value as fresh (20 in 20,000 rounds of a two-thread repro against
//! moka 0.12.16). So every cached value carries the epoch it was loaded under, and an
//! invalidation leaves a mark (the epoch it took) that a value loaded before it
//! cannot pass.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use moka::sync::Cache;

/// A value as a loader read it: the epoch before the read, and when.
#[derive(Clone)]
pub struct Loaded<V> {
    pub epoch: u64,
    pub at: Instant,
    pub value: V,
}

impl<V> Loaded<V> {
    pub fn new(epoch: u64, at: Instant, value: V) -> Self {
        Loaded { epoch, at, value }
    }
}

/// The marks left by invalidations, by what they invalidated.
pub struct Marks {
    users: Cache<i64, u64>,
    sessions: Cache<String, u64>,
    sessions_of_user: Cache<i64, u64>,
    api_keys: AtomicU64,
    everything: AtomicU64,
    /// The newest mark of any kind: a value loaded at or after it passes every mark,
    /// which spares the lookups in steady state.
    latest: AtomicU64,
    /// Marking is serialised so that a key's mark only ever grows.
    writing: Mutex<()>,
    /// More marks than this (a storm of changes) and one mark for everything is left
    /// instead: marks are unbounded by design (an evicted mark would let a stale
    /// value pass), so their number is capped here.
    limit: u64,
}

/// What a cached value is about, to find the marks that apply to it.
pub enum Subject<'a> {
    User(i64),
    Session { id: &'a str, user_id: i64 },
    ApiKey,
}

/// One invalidation to mark.
pub enum Mark<'a> {
    User(i64),
    Session(&'a str),
    SessionsOf(i64),
    ApiKeys,
    Everything,
}

impl Marks {
    /// `ttl` is the longest a cached value lives: a mark must outlive every value
    /// loaded before it, and those were all loaded before the mark was made.
    pub fn new(ttl: Duration, limit: u64) -> Marks {
        let keep = ttl + Duration::from_secs(1);
        Marks {
            users: Cache::builder().time_to_live(keep).build(),
            sessions: Cache::builder().time_to_live(keep).build(),
            sessions_of_user: Cache::builder().time_to_live(keep).build(),
            api_keys: AtomicU64::new(0),
            everything: AtomicU64::new(0),
            latest: AtomicU64::new(0),
            writing: Mutex::new(()),
            limit: limit.max(1),
        }
    }

    /// Leaves `marks`, all at `epoch` (taken by the caller after the change
    /// committed): from this call's return, no value loaded before `epoch` passes.
    pub fn mark(&self, epoch: u64, marks: &[Mark<'_>]) {
        let _turn = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let crowded = self.users.entry_count()
            + self.sessions.entry_count()
            + self.sessions_of_user.entry_count()
            > self.limit;
        for mark in marks {
            match mark {
                _ if crowded => self.everything.store(epoch, Ordering::Release),
                Mark::User(id) => self.users.insert(*id, epoch),
                Mark::Session(sid) => self.sessions.insert(sid.to_string(), epoch),
                Mark::SessionsOf(id) => self.sessions_of_user.insert(*id, epoch),
                Mark::ApiKeys => self.api_keys.store(epoch, Ordering::Release),
                Mark::Everything => self.everything.store(epoch, Ordering::Release),
            }
        }
        if crowded {
            // Every older value is refused by the mark for everything now.
            self.users.invalidate_all();
            self.sessions.invalidate_all();
            self.sessions_of_user.invalidate_all();
        }
        self.latest.fetch_max(epoch, Ordering::AcqRel);
    }

    /// True when a value about `subject`, loaded at `epoch`, postdates every mark
    /// that applies to it.
    pub fn passes(&self, subject: Subject<'_>, epoch: u64) -> bool {
        if epoch >= self.latest.load(Ordering::Acquire) {
            return true;
        }
        let after = |mark: Option<u64>| mark.is_none_or(|m| epoch >= m);
        epoch >= self.everything.load(Ordering::Acquire)
            && match subject {
                Subject::User(id) => after(self.users.get(&id)),
                Subject::Session { id, user_id } => {
                    after(self.sessions.get(id)) && after(self.sessions_of_user.get(&user_id))
                }
                Subject::ApiKey => epoch >= self.api_keys.load(Ordering::Acquire),
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks() -> Marks {
        Marks::new(Duration::from_secs(60), 1000)
    }

    #[test]
    fn a_value_loaded_before_a_mark_of_its_subject_fails_and_one_loaded_after_passes() {
        let m = marks();
        assert!(m.passes(Subject::User(1), 0));
        m.mark(1, &[Mark::User(1)]);
        assert!(!m.passes(Subject::User(1), 0));
        assert!(
            m.passes(Subject::User(2), 0),
            "another user is not concerned"
        );
        assert!(m.passes(Subject::User(1), 1));
    }

    #[test]
    fn a_session_fails_by_its_own_mark_or_by_its_users() {
        let m = marks();
        let s = |id| Subject::Session { id, user_id: 7 };
        m.mark(1, &[Mark::Session("a")]);
        assert!(!m.passes(s("a"), 0));
        assert!(m.passes(s("b"), 0));
        m.mark(2, &[Mark::SessionsOf(7)]);
        assert!(!m.passes(s("b"), 1));
        assert!(m.passes(
            Subject::Session {
                id: "b",
                user_id: 8
            },
            1
        ));
        assert!(m.passes(s("b"), 2));
    }

    #[test]
    fn a_mark_for_everything_fails_every_older_value() {
        let m = marks();
        m.mark(3, &[Mark::Everything]);
        assert!(!m.passes(Subject::ApiKey, 2));
        assert!(!m.passes(Subject::User(1), 2));
        assert!(m.passes(Subject::User(1), 3));
    }

    #[test]
    fn too_many_marks_become_one_mark_for_everything() {
        let m = Marks::new(Duration::from_secs(60), 2);
        for id in 1..=3 {
            m.mark(id as u64, &[Mark::User(id)]);
            m.users.run_pending_tasks();
        }
        m.mark(4, &[Mark::User(4)]);
        assert!(!m.passes(Subject::User(99), 3));
        assert!(m.passes(Subject::User(99), 4));
    }
}
