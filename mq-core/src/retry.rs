//! The retry policy: a pure function of the attempt number.

use std::time::Duration;

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

    #[test]
    fn retries_count_attempts_after_the_first() {
        assert!(has_attempts_left(1, 1));
        assert!(!has_attempts_left(2, 1));
        assert!(!has_attempts_left(1, 0));
    }
}
