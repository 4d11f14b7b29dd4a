//! Fixed-window rate limits per subject or per org, counted in the metadata database so every
//! gateway node sharing it sees the same windows; the window a request falls in is reckoned by
//! the database's clock, so nodes whose clocks disagree still count in the same window. A
//! refusal carries the numbers providers put in `Retry-After` and `X-RateLimit-*`.

use crate::auth::Principal;
use crate::limits::RateSpec;
use crate::store::Db;

/// A refusal: which class, and when to come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    /// The class that refused.
    pub class: String,
    /// Seconds to the end of the window.
    pub retry_after_seconds: u32,
    /// Requests allowed per window.
    pub limit: u32,
    /// Left in the window (0).
    pub remaining: u32,
    /// Window end, µs since epoch.
    pub reset_at_micros: u64,
}

/// How long counting a request (in all its classes) may wait on the database before the
/// request is let through: a stalled or unreachable database (sqlx waits up to 30 s for a
/// connection) must not hold every request at the door.
pub const WINDOW_BUDGET: std::time::Duration = std::time::Duration::from_millis(500);

/// Count one request against each of `classes`; refuse with the first class whose window is
/// full (`now_secs`, this node's clock, only shapes `Retry-After`). Database trouble, or no
/// answer within [`WINDOW_BUDGET`], fails open (logged), as the reference service does.
pub async fn hit(
    db: &Db,
    plugin: &str,
    classes: &[&RateSpec],
    principal: &Principal,
    now_secs: u64,
) -> Result<(), RateLimited> {
    let deadline = tokio::time::Instant::now() + WINDOW_BUDGET;
    for spec in classes {
        let window = u64::from(spec.window_seconds.max(1));
        let key = if spec.per_org {
            format!("{plugin}\u{1f}{}\u{1f}{}", spec.class, principal.org)
        } else {
            format!(
                "{plugin}\u{1f}{}\u{1f}{}\u{1f}{}",
                spec.class, principal.org, principal.subject
            )
        };
        let counted = db.hit_window(&key, i64::from(spec.window_seconds));
        let (count, start) = match tokio::time::timeout_at(deadline, counted).await {
            Ok(Ok((count, start))) => (count, u64::try_from(start).unwrap_or(0)),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "rate-limit window unavailable; allowing the request");
                continue;
            }
            Err(_) => {
                tracing::warn!(
                    budget_ms = WINDOW_BUDGET.as_millis(),
                    "rate-limit window not counted in time; allowing the request"
                );
                continue;
            }
        };
        if count > i64::from(spec.max_requests) {
            let end = start + window;
            return Err(RateLimited {
                class: spec.class.clone(),
                retry_after_seconds: u32::try_from(end.saturating_sub(now_secs).clamp(1, window))
                    .unwrap_or(u32::MAX),
                limit: spec.max_requests,
                remaining: 0,
                reset_at_micros: end.saturating_mul(1_000_000),
            });
        }
    }
    Ok(())
}
