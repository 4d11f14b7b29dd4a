//! Keeping a lease: a task that renews a database lease (an upload's `ingests` row, a job's
//! claim) every third of its length until dropped, and notes when the renewal is refused
//! (the row reclaimed, the job cancelled or taken over) so its holder stops.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::store::DbError;

/// A lease being renewed; dropping it stops the renewals.
pub struct Lease {
    task: tokio::task::JoinHandle<()>,
    lost: CancellationToken,
}

impl Lease {
    /// Renew with `renew` every `every` (at least 100 ms) until dropped. `renew` answers
    /// whether the lease is still held; once it is not, the renewals stop and
    /// [`Lease::lost`] is true. Failures to reach the database are logged and retried at
    /// the next tick (the lease may still be held; its expiry decides). `what` names the
    /// lease in logs.
    pub fn keep<F, Fut>(what: String, every: Duration, mut renew: F) -> Lease
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<bool, DbError>> + Send,
    {
        let lost = CancellationToken::new();
        let every = every.max(Duration::from_millis(100));
        let token = lost.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match renew().await {
                    Ok(true) => {}
                    Ok(false) => {
                        token.cancel();
                        return;
                    }
                    Err(e) => tracing::warn!(lease = %what, error = %e, "could not renew lease"),
                }
            }
        });
        Lease { task, lost }
    }

    /// Whether a renewal was refused: the lease is no longer this holder's.
    pub fn lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    /// Cancelled when a renewal is refused.
    pub fn lost_token(&self) -> CancellationToken {
        self.lost.clone()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn renews_every_tick_until_refused_and_survives_failures() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let lease = Lease::keep("test".into(), Duration::from_secs(1), move || {
            let n = c.fetch_add(1, Ordering::Relaxed) + 1;
            async move {
                match n {
                    1 => Ok(true),
                    2 => Err(DbError::JobNotRunning),
                    3 => Ok(true),
                    _ => Ok(false),
                }
            }
        });
        let token = lease.lost_token();
        tokio::time::sleep(Duration::from_millis(3_500)).await;
        assert_eq!(calls.load(Ordering::Relaxed), 3);
        assert!(!lease.lost(), "a failed renewal is not a lost lease");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(lease.lost());
        assert!(token.is_cancelled());
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            calls.load(Ordering::Relaxed),
            4,
            "no renewal after a refusal"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_stops_the_renewals() {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let lease = Lease::keep("test".into(), Duration::from_secs(1), move || {
            c.fetch_add(1, Ordering::Relaxed);
            async { Ok(true) }
        });
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        drop(lease);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }
}
