//! Per-host politeness: at most `per_host` requests at once to one host.
//!
//! A host is its name (or IP literal) as written in the URL, whatever the
//! scheme or port: politeness is owed to the machine. A request holds its turn
//! for the whole exchange, redirects included, even when a redirect leads to
//! another host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One semaphore per host, created on first use and forgotten when idle.
#[derive(Debug)]
pub(super) struct HostLimiter {
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostLimiter {
    /// `per_host` is at least 1: a limit of 0 would wait forever.
    pub(super) fn new(per_host: usize) -> Self {
        HostLimiter { per_host: per_host.max(1), hosts: Mutex::new(HashMap::new()) }
    }

    /// Waits for a turn on `host`; the turn ends when the permit is dropped.
    ///
    /// `None` only if the semaphore was closed, which this type never does;
    /// the request then simply goes ahead.
    pub(super) async fn acquire(&self, host: &str) -> Option<OwnedSemaphorePermit> {
        self.semaphore(host).acquire_owned().await.ok()
    }

    fn semaphore(&self, host: &str) -> Arc<Semaphore> {
        // Nothing panics while the lock is held, but a poisoned map is still
        // a valid map: keep going rather than propagate someone's panic.
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(semaphore) = hosts.get(host) {
            return Arc::clone(semaphore);
        }
        // Every holder and every waiter owns a clone of its host's Arc, and
        // clones are only made under this lock, so a count of 1 means idle:
        // dropping the entry loses nothing, and the map stays as small as the
        // set of hosts in use (article pages may touch many hosts over time).
        hosts.retain(|_, semaphore| Arc::strong_count(semaphore) > 1);
        let semaphore = Arc::new(Semaphore::new(self.per_host));
        hosts.insert(host.to_owned(), Arc::clone(&semaphore));
        semaphore
    }

    #[cfg(test)]
    fn tracked_hosts(&self) -> usize {
        self.hosts.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt;

    use super::HostLimiter;

    #[test]
    fn limits_each_host_separately() {
        let limiter = HostLimiter::new(2);
        let a1 = limiter.acquire("a.example").now_or_never().flatten();
        let a2 = limiter.acquire("a.example").now_or_never().flatten();
        assert!(a1.is_some() && a2.is_some());
        assert!(limiter.acquire("a.example").now_or_never().is_none(), "third turn on a host must wait");
        assert!(limiter.acquire("b.example").now_or_never().flatten().is_some(), "other hosts do not wait");
        drop(a1);
        assert!(limiter.acquire("a.example").now_or_never().flatten().is_some(), "a freed turn is reusable");
    }

    #[test]
    fn zero_means_one() {
        let limiter = HostLimiter::new(0);
        let first = limiter.acquire("a.example").now_or_never().flatten();
        assert!(first.is_some());
        assert!(limiter.acquire("a.example").now_or_never().is_none());
    }

    #[test]
    fn forgets_idle_hosts_but_not_busy_ones() {
        let limiter = HostLimiter::new(1);
        let busy = limiter.acquire("busy.example").now_or_never().flatten();
        drop(limiter.acquire("idle.example").now_or_never().flatten());
        assert_eq!(limiter.tracked_hosts(), 2);
        let _new = limiter.acquire("new.example").now_or_never().flatten();
        assert_eq!(limiter.tracked_hosts(), 2, "idle.example is forgotten, busy.example kept");
        assert!(limiter.acquire("busy.example").now_or_never().is_none(), "busy host still limited");
        drop(busy);
    }
}
