//! A dedicated, bounded pool for bcrypt. Hashing is deliberately slow CPU work: it
//! gets one thread per core and a bounded queue, so a login storm can neither starve
//! the async workers and `web::block`'s database threads nor pile up without limit.
//! When the queue is full, callers get [`PoolError::Busy`] (answered 503 with
//! Retry-After).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Why a job did not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Every thread is working and the queue is full: retry shortly.
    #[error("the bcrypt queue is full")]
    Busy,
    #[error("bcrypt pool stopped")]
    Stopped,
    #[error("bcrypt job dropped")]
    Dropped,
}

pub struct HashPool {
    sender: SyncSender<Job>,
    /// Jobs submitted and not yet finished (queued + running).
    depth: Arc<AtomicUsize>,
    threads: usize,
    queue: usize,
}

impl HashPool {
    /// `nice` lowers the hashing threads' CPU priority (Linux), so that request
    /// handling, which needs little CPU but needs it now, goes first.
    pub fn new(threads: usize, queue: usize, nice: i32) -> std::io::Result<HashPool> {
        let threads = threads.max(1);
        let queue = queue.max(1);
        let (sender, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("bcrypt-{n}"))
                .spawn(move || {
                    lower_priority(nice);
                    loop {
                        let job = match receiver.lock() {
                            Ok(rx) => rx.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(),
                            // The pool was dropped: nothing more will come.
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(HashPool {
            sender,
            depth: Arc::new(AtomicUsize::new(0)),
            threads,
            queue,
        })
    }

    /// Runs `f` on the pool and waits for it without blocking the caller's thread.
    pub async fn run<R, F>(&self, f: F) -> Result<R, PoolError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let depth = Arc::clone(&self.depth);
        depth.fetch_add(1, Ordering::Relaxed);
        let job: Job = Box::new(move || {
            let result = f();
            // Before the send: whoever awaits the result must see the job as done.
            depth.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(result);
        });
        match self.sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                return Err(PoolError::Busy);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                return Err(PoolError::Stopped);
            }
        }
        rx.await.map_err(|_| PoolError::Dropped)
    }

    /// True when a new job would be refused: callers can answer 503 before doing
    /// any other work for a request that cannot be served anyway.
    pub fn is_saturated(&self) -> bool {
        self.depth() >= self.threads + self.queue
    }

    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    pub fn threads(&self) -> usize {
        self.threads
    }
}

/// On Linux every thread is its own scheduling entity, so this affects the calling
/// thread only. Failure (e.g. a sandbox forbidding it) just leaves the priority alone.
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    if nice > 0 {
        // SAFETY: plain syscall wrappers with no pointers involved.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, nice);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[actix_web::test]
    async fn jobs_run_and_return_their_result() {
        let pool = HashPool::new(2, 4, 0).unwrap();
        assert_eq!(pool.run(|| 21 * 2).await.unwrap(), 42);
        assert_eq!(pool.depth(), 0);
    }

    #[actix_web::test]
    async fn a_full_queue_answers_busy_instead_of_waiting() {
        let pool = Arc::new(HashPool::new(1, 1, 0).unwrap());
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        // One job occupies the thread, one fills the queue.
        let mut running = Vec::new();
        for _ in 0..2 {
            let (pool, rx) = (Arc::clone(&pool), Arc::clone(&release_rx));
            running.push(actix_web::rt::spawn(async move {
                pool.run(move || {
                    let _ = rx.lock().unwrap().recv_timeout(Duration::from_secs(5));
                })
                .await
            }));
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(pool.run(|| ()).await, Err(PoolError::Busy));
        release_tx.send(()).unwrap();
        release_tx.send(()).unwrap();
        for r in running {
            r.await.unwrap().unwrap();
        }
    }
}
