//! What runners report of their work, for dashboards: which runners are
//! alive and how many jobs each runs ([`RunnerInfo`]), and how many
//! attempts ended per minute and channel name ([`MinuteCount`]).
//!
//! A runner tallies its attempts' outcomes in memory ([`ActivityTally`])
//! and writes them, with its own row, in one call every few seconds
//! ([`Backend::activity_record`](crate::Backend::activity_record);
//! [`JobRunnerOptions::set_activity_interval`](crate::JobRunnerOptions::set_activity_interval)).
//! Reading them ([`admin::throughput`](crate::admin::throughput),
//! [`admin::runners`](crate::admin::runners)) costs a few rows per minute
//! and channel, whatever the size of the jobs table, which is why a
//! dashboard can draw its charts from them on every refresh.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::runner::report::JobOutcome;

/// How long minutes are kept by default: a day.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// How long a runner that stopped writing stays listed (one killed without
/// stopping cannot delete its own row).
pub const RUNNER_PRUNE_AFTER: Duration = Duration::from_secs(600);

/// The attempts that ended in one minute on one channel name, over every
/// runner that reported them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MinuteCount {
    /// The minute's start (seconds and below zero, UTC).
    pub minute: OffsetDateTime,
    /// The jobs' channel name.
    pub channel_name: String,
    /// Jobs that completed.
    pub completed: u64,
    /// Attempts that failed, the job to be retried.
    pub retried: u64,
    /// Jobs that failed for good (out of attempts, or failed by their
    /// code without a retry).
    pub failed: u64,
}

impl MinuteCount {
    /// A count; for backends outside this crate.
    pub fn new(
        minute: OffsetDateTime,
        channel_name: String,
        completed: u64,
        retried: u64,
        failed: u64,
    ) -> Self {
        Self {
            minute,
            channel_name,
            completed,
            retried,
            failed,
        }
    }

    /// Adds another count's numbers to this one's.
    pub fn add(&mut self, other: &MinuteCount) {
        self.completed += other.completed;
        self.retried += other.retried;
        self.failed += other.failed;
    }
}

/// A runner, as it last reported itself.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunnerInfo {
    /// The runner's id (new at every start).
    pub id: Uuid,
    /// Its name ([`JobRunnerOptions::set_name`](crate::JobRunnerOptions::set_name);
    /// by default the host name and process id).
    pub name: String,
    /// When it first reported.
    pub started_at: OffsetDateTime,
    /// When it last reported. A runner that stopped cleanly is no longer
    /// listed; one that was killed stays until [`RUNNER_PRUNE_AFTER`].
    pub seen_at: OffsetDateTime,
    /// The jobs it was running then.
    pub running: u32,
    /// The most it runs at once.
    pub max_concurrency: u32,
}

impl RunnerInfo {
    /// A runner; for backends outside this crate.
    pub fn new(
        id: Uuid,
        name: String,
        started_at: OffsetDateTime,
        seen_at: OffsetDateTime,
        running: u32,
        max_concurrency: u32,
    ) -> Self {
        Self {
            id,
            name,
            started_at,
            seen_at,
            running,
            max_concurrency,
        }
    }
}

/// Parameters of [`Backend::activity_record`](crate::Backend::activity_record).
#[derive(Clone, Debug)]
pub struct ActivityRecordParams<'a> {
    /// The runner reporting.
    pub runner: Uuid,
    /// Its name.
    pub name: &'a str,
    /// The jobs it runs now.
    pub running: u32,
    /// The most it runs at once.
    pub max_concurrency: u32,
    /// Counts to add, at most one per minute and channel name.
    pub minutes: &'a [MinuteCount],
    /// The runner is stopping: add its counts and remove its row.
    pub stopping: bool,
    /// Minutes older than this before `now` are deleted, and runners not
    /// seen for [`RUNNER_PRUNE_AFTER`].
    pub retention: Duration,
    /// The time of the report; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// Parameters of [`Backend::throughput_list`](crate::Backend::throughput_list).
#[derive(Clone, Copy, Debug)]
pub struct ThroughputListParams {
    /// How far back from `now` to list minutes (a minute is listed if it
    /// ends after `now - since`).
    pub since: Duration,
    /// `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// Parameters of [`Backend::runner_list`](crate::Backend::runner_list).
#[derive(Clone, Copy, Debug, Default)]
pub struct RunnerListParams {}

/// The start of the minute `at` falls in.
pub fn minute_of(at: OffsetDateTime) -> OffsetDateTime {
    let secs = at.unix_timestamp();
    OffsetDateTime::from_unix_timestamp(secs - secs.rem_euclid(60)).unwrap_or(at)
}

/// A runner's counts not yet written, by channel name and minute; what
/// [`ActivityRecordParams::minutes`] is made of.
#[derive(Debug, Default)]
pub struct ActivityTally {
    counts: HashMap<String, BTreeMap<OffsetDateTime, MinuteCount>>,
}

impl ActivityTally {
    /// Counts an attempt that ended at `at`; outcomes that end no attempt
    /// in the eyes of a dashboard (a release, a lost lease, an outcome not
    /// written) are not counted.
    pub fn record(&mut self, at: OffsetDateTime, channel_name: &str, outcome: JobOutcome) {
        let field: fn(&mut MinuteCount) = match outcome {
            JobOutcome::Completed => |c| c.completed += 1,
            JobOutcome::Retrying => |c| c.retried += 1,
            JobOutcome::Failed => |c| c.failed += 1,
            _ => return,
        };
        let minute = minute_of(at);
        // Looked up by &str first: a channel's name is copied once, not at
        // every attempt.
        let minutes = match self.counts.get_mut(channel_name) {
            Some(minutes) => minutes,
            None => self.counts.entry(channel_name.to_owned()).or_default(),
        };
        field(
            minutes
                .entry(minute)
                .or_insert_with(|| MinuteCount::new(minute, channel_name.to_owned(), 0, 0, 0)),
        );
    }

    /// Whether nothing is tallied.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Takes every count out, ordered by minute and channel name.
    pub fn take(&mut self) -> Vec<MinuteCount> {
        let mut taken: Vec<MinuteCount> = self
            .counts
            .drain()
            .flat_map(|(_, minutes)| minutes.into_values())
            .collect();
        taken.sort_by(|a, b| (a.minute, &a.channel_name).cmp(&(b.minute, &b.channel_name)));
        taken
    }

    /// Puts counts back that could not be written, adding them to what was
    /// tallied since, except minutes before `oldest` (past the retention:
    /// the write would delete them anyway).
    pub fn restore(&mut self, counts: Vec<MinuteCount>, oldest: OffsetDateTime) {
        for count in counts {
            if count.minute < minute_of(oldest) {
                continue;
            }
            self.counts
                .entry(count.channel_name.clone())
                .or_default()
                .entry(count.minute)
                .and_modify(|kept| kept.add(&count))
                .or_insert(count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    #[test]
    fn minutes_start_on_the_minute() {
        let minute = minute_of(at(59));
        assert_eq!(minute.second(), 0);
        assert_eq!(minute_of(at(61)) - minute, time::Duration::minutes(1));
        assert_eq!(minute_of(minute), minute);
    }

    #[test]
    fn tallies_by_minute_and_channel() {
        let mut tally = ActivityTally::default();
        tally.record(at(1), "b", JobOutcome::Completed);
        tally.record(at(2), "b", JobOutcome::Completed);
        tally.record(at(3), "a", JobOutcome::Retrying);
        tally.record(at(70), "b", JobOutcome::Failed);
        tally.record(at(71), "b", JobOutcome::Released);
        tally.record(at(72), "b", JobOutcome::LeaseLost);
        let counts = tally.take();
        assert!(tally.is_empty());
        let rows: Vec<_> = counts
            .iter()
            .map(|c| {
                (
                    c.minute.unix_timestamp() - minute_of(at(0)).unix_timestamp(),
                    c.channel_name.as_str(),
                    c.completed,
                    c.retried,
                    c.failed,
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![(0, "a", 0, 1, 0), (0, "b", 2, 0, 0), (60, "b", 0, 0, 1)]
        );
    }

    #[test]
    fn restored_counts_add_up_and_old_ones_go() {
        let mut tally = ActivityTally::default();
        tally.record(at(0), "a", JobOutcome::Completed);
        tally.record(at(120), "a", JobOutcome::Completed);
        let unwritten = tally.take();
        tally.record(at(121), "a", JobOutcome::Completed);
        tally.restore(unwritten, at(60));
        let counts = tally.take();
        assert_eq!(counts.len(), 1, "the minute before the retention is gone");
        assert_eq!(counts[0].completed, 2);
    }
}
