//! The retry policy: a pure function of the job and its attempt number.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use uuid::Uuid;

use crate::builder::MAX_DURATION;

/// The wait before retrying after attempt `attempt` (1-based) failed:
/// `backoff * 2^(attempt - 1)`, capped at [`MAX_DURATION`] so that doubling
/// never overflows however many retries a job has.
pub fn retry_delay(backoff: Duration, attempt: i32) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0);
    2u32.checked_pow(doublings)
        .and_then(|factor| backoff.checked_mul(factor))
        .map_or(MAX_DURATION, |delay| delay.min(MAX_DURATION))
}

/// How long a failed job waits before its next attempt, as its
/// [`JobBuilder`](crate::JobBuilder) set it: `backoff` doubled for each
/// retry after the first ([`retry_delay`]), at most `backoff_max` when set,
/// and with `jitter` a share of that taken off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The wait before the first retry.
    pub backoff: Duration,
    /// The longest wait, whatever the attempt.
    pub backoff_max: Option<Duration>,
    /// Whether waits are spread out: each is drawn between half the
    /// computed wait and all of it ("equal jitter"), so that jobs that
    /// failed together (a database down, an API rate-limiting) do not all
    /// come back together, while no wait drops below half.
    pub jitter: bool,
}

impl RetryPolicy {
    /// The wait after attempt `attempt` (1-based) of job `id` failed. The
    /// jitter is drawn from the id and the attempt, so that jobs failing
    /// together spread out, and asking twice gives the same wait.
    pub fn delay(&self, id: Uuid, attempt: i32) -> Duration {
        let doubled = retry_delay(self.backoff, attempt);
        let capped = self.backoff_max.map_or(doubled, |max| doubled.min(max));
        if !self.jitter {
            return capped;
        }
        let mut hasher = DefaultHasher::new();
        (id, attempt).hash(&mut hasher);
        // The top 53 bits: a uniform fraction in [0, 1).
        let fraction = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
        // In whole microseconds, as PostgreSQL stores times: every backend
        // then keeps the wait this returns.
        let jittered = capped.mul_f64(0.5 + 0.5 * fraction);
        Duration::from_micros(u64::try_from(jittered.as_micros()).unwrap_or(u64::MAX))
    }
}

/// Whether a job that failed attempt `attempt` has another one: `retries`
/// counts the attempts allowed after the first.
pub fn has_attempts_left(attempt: i32, retries: i32) -> bool {
    attempt <= retries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_first_retry() {
        let base = Duration::from_millis(100);
        assert_eq!(retry_delay(base, 1), Duration::from_millis(100));
        assert_eq!(retry_delay(base, 2), Duration::from_millis(200));
        assert_eq!(retry_delay(base, 4), Duration::from_millis(800));
    }

    #[test]
    fn backoff_saturates_instead_of_overflowing() {
        assert_eq!(retry_delay(Duration::from_secs(1), i32::MAX), MAX_DURATION);
        assert_eq!(retry_delay(MAX_DURATION, 3), MAX_DURATION);
    }

    fn policy(backoff_ms: u64, max_ms: Option<u64>, jitter: bool) -> RetryPolicy {
        RetryPolicy {
            backoff: Duration::from_millis(backoff_ms),
            backoff_max: max_ms.map(Duration::from_millis),
            jitter,
        }
    }

    #[test]
    fn the_cap_bounds_every_wait() {
        let capped = policy(100, Some(500), false);
        let id = Uuid::now_v7();
        assert_eq!(capped.delay(id, 1), Duration::from_millis(100));
        assert_eq!(capped.delay(id, 3), Duration::from_millis(400));
        assert_eq!(capped.delay(id, 4), Duration::from_millis(500));
        assert_eq!(capped.delay(id, i32::MAX), Duration::from_millis(500));
        // A cap below the backoff caps the first retry too.
        assert_eq!(
            policy(1000, Some(10), false).delay(id, 1),
            Duration::from_millis(10)
        );
    }

    #[test]
    fn jitter_keeps_waits_between_half_and_all_and_spreads_them() {
        let jittered = policy(1000, Some(8000), true);
        let mut waits = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let id = Uuid::now_v7();
            for attempt in 1..=6 {
                let full = policy(1000, Some(8000), false).delay(id, attempt);
                let wait = jittered.delay(id, attempt);
                assert!(wait >= full / 2 && wait <= full, "{wait:?} of {full:?}");
                // Asking again gives the same wait.
                assert_eq!(jittered.delay(id, attempt), wait);
            }
            waits.insert(jittered.delay(id, 1));
        }
        // 200 jobs failing together come back at many different times.
        assert!(waits.len() > 150, "{} distinct waits", waits.len());
    }

    #[test]
    fn retries_count_attempts_after_the_first() {
        assert!(has_attempts_left(1, 1));
        assert!(!has_attempts_left(2, 1));
        assert!(!has_attempts_left(1, 0));
    }
}
