//! What the scenarios spawn and the workers run.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mq::JobBuilder;
use serde::{Deserialize, Serialize};

/// The name of the one job the workers know.
pub const JOB_NAME: &str = "reliability";
/// The channel of unordered work.
pub const WORK_CHANNEL: &str = "work";
/// The channel of ordered work (one ordered queue per channel argument).
pub const ORDERED_CHANNEL: &str = "ordered";
/// The job of the periodic scenario's schedule, and the schedule's name
/// (the `#[job]` attributes in worker.rs spell it out again).
pub const PERIODIC_JOB: &str = "periodic";
/// The channel of the periodic job.
pub const PERIODIC_CHANNEL: &str = "periodic";
/// The limits scenario's channel limited as a whole.
pub const LIMITED_CHANNEL: &str = "limited";
/// The limits scenario's channel limited per argument.
pub const PER_ARGS_CHANNEL: &str = "limited-per-args";
/// The limits scenario's channel without a limit, beside the limited ones.
pub const UNLIMITED_CHANNEL: &str = "unlimited";
/// Attempts allowed after the first: a job killed with its worker uses one
/// up, and no job may fail for good because its workers kept dying.
pub const RETRIES: u32 = 10_000;

/// The channel only the worker `incarnation` takes jobs from, to time its
/// own wake-ups.
pub fn probe_channel(incarnation: i32) -> String {
    format!("probe-{incarnation}")
}

/// A job's payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    /// Its place in its producer's sequence (per channel for ordered jobs).
    pub seq: i64,
    /// When it was spawned, in µs since the Unix epoch (the machine's
    /// clock, which PostgreSQL's `clock_timestamp()` also reads).
    pub spawned_us: i64,
    /// How long the job works before completing.
    pub work_ms: u64,
}

impl Task {
    /// A task spawned now, working `work_ms`.
    pub fn new(seq: i64, work_ms: u64) -> Self {
        Self {
            seq,
            spawned_us: now_us(),
            work_ms,
        }
    }

    /// How long the job works.
    pub fn work(&self) -> Duration {
        Duration::from_millis(self.work_ms)
    }
}

/// A spread of work times in `0..=max_ms`, the same for the same `seq`.
pub fn work_ms(seq: i64, max_ms: u64) -> u64 {
    (seq.unsigned_abs().wrapping_mul(2_654_435_761) >> 7) % (max_ms + 1)
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

/// Seconds since the Unix epoch, as PostgreSQL's `to_timestamp` takes them.
pub fn now_epoch() -> f64 {
    now_us() as f64 / 1e6
}

/// The builder of a reliability job on `channel` with `args`.
pub fn builder(channel: &str, args: &str, ordered: bool, task: &Task) -> mq::Result<JobBuilder> {
    let mut builder = JobBuilder::new(JOB_NAME);
    builder
        .set_channel_name(channel)
        .set_channel_args(args)
        .set_ordered(ordered)
        .set_retries(RETRIES)
        .set_retry_backoff(Duration::from_millis(50))
        .set_json(task)?;
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::work_ms;

    #[test]
    fn work_times_stay_in_range_and_spread() {
        let times: Vec<u64> = (0..1000).map(|seq| work_ms(seq, 100)).collect();
        assert!(times.iter().all(|&t| t <= 100));
        assert!(times.iter().any(|&t| t < 20) && times.iter().any(|&t| t > 80));
    }
}
