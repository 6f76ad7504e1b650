//! Inspecting and repairing the queue: look a job up, list jobs, count
//! them, retry failed jobs, delete jobs, prune old failed and completed
//! ones, pause and resume channels.
//!
//! Every call takes a driver handle, like [`commit`](crate::commit): a pool,
//! a connection or a transaction (or a [`Backend`](crate::Backend) value
//! such as the in-memory backend).
//!
//! Jobs that run out of attempts stay in state [`JobState::Failed`] with
//! their error history ([`JobInfo::errors`]) until they are retried
//! ([`retry`], [`retry_failed`]) or deleted ([`delete`], [`prune`]). A
//! failed ordered job keeps holding its channel: the ordered jobs spawned
//! after it on that channel wait until it is retried and completes, or is
//! deleted. [`stats`] shows such channels ([`JobStateCount::ordered`] of
//! the failed rows).
//!
//! Listing pages by the primary key, a few milliseconds a page whatever
//! the table's size. Counting reads the whole jobs table (there is no
//! index for it on the hot path), which takes a moment on a queue of
//! millions of jobs: fine for an operator, not for a request handler's hot
//! loop.
//!
//! On the in-memory backend (feature `testing`); a pool works the same:
//!
//! ```
//! # use mq_core as mq;
//! # use mq_core::memory::MemoryBackend;
//! use std::time::Duration;
//!
//! use mq::admin::{self, JobQuery};
//! use mq::{JobBuilder, JobState};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> mq_core::Result<()> {
//! let backend = MemoryBackend::new();
//! let id = JobBuilder::new("greet").set_channel_name("greetings").spawn(&backend).await?;
//!
//! let job = admin::get(&backend, id).await?.expect("the job exists");
//! assert_eq!(job.state, JobState::Ready);
//!
//! let page = admin::list(&backend, JobQuery::new().set_channel_name("greetings")).await?;
//! assert_eq!(page.jobs.len(), 1);
//!
//! let stats = admin::stats(&backend).await?;
//! assert_eq!(stats.total(JobState::Ready), 1);
//!
//! admin::pause(&backend, "greetings").await?; // runners leave its jobs
//! assert!(admin::stats(&backend).await?.is_paused("greetings"));
//! admin::resume(&backend, "greetings").await?;
//!
//! admin::retry_failed(&backend, None).await?; // nothing has failed yet
//! admin::prune(&backend, Duration::from_secs(7 * 24 * 3600), &[JobState::Failed]).await?;
//! assert_eq!(admin::delete(&backend, &[id]).await?, vec![id]);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use uuid::Uuid;

pub use crate::activity::{MinuteCount, RunnerInfo};
use crate::activity::{RunnerListParams, ThroughputListParams};
pub use crate::backend::{
    ChannelPause, FailedAttempt, JobInfo, JobState, JobStateCount, JobSummary, QueueStats,
    ScheduleInfo,
};
use crate::backend::{
    ChannelPauseParams, JobDeleteParams, JobFilter, JobGetParams, JobListParams, JobRetryParams,
    JobStatsParams, PauseAction, ScheduleListParams,
};
use crate::builder::MAX_DURATION;
use crate::error::{Error, Result};
use crate::executor::Executor;
pub use crate::limits::{ChannelLimit, LimitInfo, Rate};
use crate::limits::{ChannelLimitParams, ChannelLimitsParams, LimitAction};

/// Everything stored about a job, or `None` if no such job is stored
/// (never spawned, completed without being kept, deleted, or discarded).
pub async fn get<D, E: Executor<D>>(executor: E, id: Uuid) -> Result<Option<JobInfo>> {
    executor.job_get(JobGetParams { id }).await
}

/// Which jobs [`list`] returns: a filter, a page size, and where the page
/// starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobQuery {
    channel_name: Option<String>,
    name: Option<String>,
    state: Option<JobState>,
    limit: u32,
    after: Option<JobCursor>,
}

impl Default for JobQuery {
    fn default() -> Self {
        Self::new()
    }
}

impl JobQuery {
    /// The default page size.
    pub const DEFAULT_LIMIT: u32 = 100;

    /// Every job, first page, [`DEFAULT_LIMIT`](Self::DEFAULT_LIMIT) jobs.
    pub fn new() -> Self {
        Self {
            channel_name: None,
            name: None,
            state: None,
            limit: Self::DEFAULT_LIMIT,
            after: None,
        }
    }

    /// Only jobs of this channel name (with any channel arguments).
    pub fn set_channel_name(&mut self, channel_name: impl Into<String>) -> &mut Self {
        self.channel_name = Some(channel_name.into());
        self
    }

    /// Only jobs of this name.
    pub fn set_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.name = Some(name.into());
        self
    }

    /// Only jobs in this state.
    pub fn set_state(&mut self, state: JobState) -> &mut Self {
        self.state = Some(state);
        self
    }

    /// At most this many jobs per page (at least 1).
    pub fn set_limit(&mut self, limit: u32) -> &mut Self {
        self.limit = limit.max(1);
        self
    }

    /// Starts after this cursor: the [`JobPage::next`] of the previous page.
    pub fn set_after(&mut self, cursor: JobCursor) -> &mut Self {
        self.after = Some(cursor);
        self
    }
}

/// A place in a listing to continue from: the job the next page starts
/// after, in id order. Its text form (from `Display`, read back by
/// `FromStr`) can be handed to a user and back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobCursor(Uuid);

impl JobCursor {
    /// The cursor after this job.
    pub fn after(id: Uuid) -> Self {
        Self(id)
    }

    /// The job the next page starts after.
    pub fn id(self) -> Uuid {
        self.0
    }
}

impl fmt::Display for JobCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for JobCursor {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        text.trim()
            .parse()
            .map(Self)
            .map_err(|_| Error::invalid("cursor", format!("{text:?} is not a job cursor")))
    }
}

/// One page of [`list`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobPage {
    /// The jobs, in id order.
    pub jobs: Vec<JobSummary>,
    /// Where the next page starts, if there are more jobs.
    pub next: Option<JobCursor>,
}

/// Lists jobs a page at a time, in id order: mq's ids are UUIDv7, made in
/// time order, so this is the order jobs were made in (the order of
/// [`JobBuilder::new`](crate::JobBuilder::new) calls, within a process).
/// A page is a walk of the primary key, so paging costs the same at any
/// size of the table.
pub async fn list<D, E: Executor<D>>(executor: E, query: &JobQuery) -> Result<JobPage> {
    if let Some(name) = &query.channel_name {
        no_nul("channel_name", name)?;
    }
    if let Some(name) = &query.name {
        no_nul("name", name)?;
    }
    let limit = query.limit.max(1);
    let channel_names = query.channel_name.clone().map(|name| vec![name]);
    let names = query.name.clone().map(|name| vec![name]);
    let states = query.state.map(|state| [state]);
    // One more than asked for tells whether a next page exists.
    let mut jobs = executor
        .job_list(JobListParams {
            filter: JobFilter {
                channel_names: channel_names.as_deref(),
                names: names.as_deref(),
                states: states.as_ref().map(|s| &s[..]),
                ..JobFilter::default()
            },
            after: query.after.map(JobCursor::id),
            limit: limit.saturating_add(1),
        })
        .await?;
    let next = if jobs.len() > limit as usize {
        jobs.truncate(limit as usize);
        jobs.last().map(|job| JobCursor(job.id))
    } else {
        None
    };
    Ok(JobPage { jobs, next })
}

/// Makes failed jobs ready to run again, with a full set of attempts
/// (attempts count from zero again). Their error history is kept. Ids of
/// jobs that are not failed (or do not exist) are left alone; the ids
/// retried are returned.
pub async fn retry<D, E: Executor<D>>(executor: E, ids: &[Uuid]) -> Result<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    executor
        .job_retry(JobRetryParams {
            filter: JobFilter {
                ids: Some(ids),
                ..JobFilter::default()
            },
        })
        .await
}

/// Retries every failed job, or those of one channel name (with any
/// channel arguments), as [`retry`] does. Returns how many.
pub async fn retry_failed<D, E: Executor<D>>(
    executor: E,
    channel_name: Option<&str>,
) -> Result<u64> {
    if let Some(name) = channel_name {
        no_nul("channel_name", name)?;
    }
    let names = channel_name.map(|name| vec![name.to_owned()]);
    let retried = executor
        .job_retry(JobRetryParams {
            filter: JobFilter {
                channel_names: names.as_deref(),
                states: Some(&[JobState::Failed]),
                ..JobFilter::default()
            },
        })
        .await?;
    Ok(retried.len() as u64)
}

/// Deletes jobs, in any state. A runner that is running one of them gets
/// [`Error::LeaseLost`] when it completes it (and a transaction passed to
/// `complete_with_transaction` must roll back). Returns the ids deleted;
/// the others did not exist.
pub async fn delete<D, E: Executor<D>>(executor: E, ids: &[Uuid]) -> Result<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    executor
        .job_delete(JobDeleteParams {
            filter: JobFilter {
                ids: Some(ids),
                ..JobFilter::default()
            },
        })
        .await
}

/// Deletes the jobs in `states` ([`JobState::Failed`],
/// [`JobState::Cancelled`], and [`JobState::Completed`] for jobs kept by a
/// runner with
/// [`set_keep_completed`](crate::JobRunnerOptions::set_keep_completed))
/// that failed, were cancelled or completed at least `older_than` ago.
/// Returns how many.
pub async fn prune<D, E: Executor<D>>(
    executor: E,
    older_than: Duration,
    states: &[JobState],
) -> Result<u64> {
    if states.is_empty() {
        return Err(Error::invalid("states", "no state to prune"));
    }
    if let Some(state) = states.iter().find(|state| {
        !matches!(
            state,
            JobState::Failed | JobState::Completed | JobState::Cancelled
        )
    }) {
        return Err(Error::invalid(
            "states",
            format!("only failed, completed and cancelled jobs can be pruned, not {state} ones"),
        ));
    }
    if older_than > MAX_DURATION {
        return Err(Error::invalid(
            "older_than",
            format!("{older_than:?} is longer than the maximum of 1000 years"),
        ));
    }
    executor
        .job_delete(JobDeleteParams {
            filter: JobFilter {
                states: Some(states),
                finished_before: Some(older_than),
                ..JobFilter::default()
            },
        })
        .await
        .map(|deleted| deleted.len() as u64)
}

/// Counts jobs per channel name and state: the depth of each queue, how
/// long its oldest ready job has waited, how many jobs run, how many have
/// failed; and lists the paused channels.
pub async fn stats<D, E: Executor<D>>(executor: E) -> Result<QueueStats> {
    executor.job_stats(JobStatsParams { now: None }).await
}

/// Every periodic job's schedule stored in the database, by name: its
/// cadence, when it is next due, the last tick it spawned a job for, and
/// the runner that leads it (none while its lease is lapsed). A schedule
/// stays listed for a while after the last process declaring it stopped
/// ([`JobRunnerOptions::set_schedule_prune_after`](crate::JobRunnerOptions::set_schedule_prune_after)).
pub async fn schedules<D, E: Executor<D>>(executor: E) -> Result<Vec<ScheduleInfo>> {
    executor
        .schedule_list(ScheduleListParams { now: None })
        .await
}

/// How many attempts ended in each minute of the last `since`, per
/// channel name: jobs completed, retried and failed, as runners report
/// them every few seconds
/// ([`JobRunnerOptions::set_activity_interval`](crate::JobRunnerOptions::set_activity_interval)).
/// Minutes without any are left out. Reads a few rows per minute and
/// channel, whatever the number of jobs.
pub async fn throughput<D, E: Executor<D>>(
    executor: E,
    since: Duration,
) -> Result<Vec<MinuteCount>> {
    if since > MAX_DURATION {
        return Err(Error::invalid(
            "since",
            format!("{since:?} is longer than the maximum of 1000 years"),
        ));
    }
    executor
        .throughput_list(ThroughputListParams { since, now: None })
        .await
}

/// The runners of every process, as each last reported itself: its name,
/// when it started and last reported, and how many jobs it runs. A runner
/// leaves the list when it stops, or a while after it last reported if it
/// was killed.
pub async fn runners<D, E: Executor<D>>(executor: E) -> Result<Vec<RunnerInfo>> {
    executor.runner_list(RunnerListParams {}).await
}

/// Sets (or replaces) the limit of a channel name, for every runner of
/// every process: from the next claim, its jobs run only as the limit
/// allows (see [`limits`](crate::limits)). Returns whether anything
/// changed.
pub async fn set_limit<D, E: Executor<D>>(executor: E, limit: &ChannelLimit) -> Result<bool> {
    executor
        .channel_limit(ChannelLimitParams {
            channel_name: limit.channel_name(),
            action: LimitAction::Set(limit),
        })
        .await
}

/// Removes the limit of a channel name; returns whether it had one.
pub async fn remove_limit<D, E: Executor<D>>(executor: E, channel_name: &str) -> Result<bool> {
    executor
        .channel_limit(ChannelLimitParams {
            channel_name,
            action: LimitAction::Remove,
        })
        .await
}

/// Every channel limit, by channel name, with its current use: the jobs
/// running under it, those started in its rate period, and the ready jobs
/// waiting.
pub async fn limits<D, E: Executor<D>>(executor: E) -> Result<Vec<LimitInfo>> {
    executor
        .channel_limits(ChannelLimitsParams {
            now: None,
            with_use: true,
        })
        .await
}

/// Pauses a channel name (all its arguments) for every runner of every
/// process, until [`resume`]: claims skip its jobs, at no cost to other
/// channels. Jobs already running run on, and spawning into a paused
/// channel works as usual (its jobs wait). The pause is stored in the
/// database, so it survives restarts, and [`stats`] lists it. A claim
/// that began before the pause committed may still take a job.
///
/// A name no job has yet can be paused, so that a channel is paused
/// before its work arrives. Returns `false` if it was paused already.
pub async fn pause<D, E: Executor<D>>(executor: E, channel_name: &str) -> Result<bool> {
    pause_action(executor, channel_name, PauseAction::Pause).await
}

/// Resumes a channel name paused by [`pause`]: its jobs are claimed again,
/// and listening runners are woken at once. Resuming a channel that is not
/// paused is an [`Error::NotPaused`], and changes nothing.
pub async fn resume<D, E: Executor<D>>(executor: E, channel_name: &str) -> Result<()> {
    if pause_action(executor, channel_name, PauseAction::Resume).await? {
        Ok(())
    } else {
        Err(Error::NotPaused {
            channel_name: channel_name.to_owned(),
        })
    }
}

async fn pause_action<D, E: Executor<D>>(
    executor: E,
    channel_name: &str,
    action: PauseAction,
) -> Result<bool> {
    no_nul("channel_name", channel_name)?;
    executor
        .channel_pause(ChannelPauseParams {
            channel_name,
            action,
            now: None,
        })
        .await
}

fn no_nul(field: &'static str, value: &str) -> Result<()> {
    if value.contains('\0') {
        return Err(Error::invalid(field, "contains a NUL character"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_as_text() {
        let cursor = JobCursor::after(Uuid::now_v7());
        assert_eq!(cursor.to_string().parse::<JobCursor>().unwrap(), cursor);
        assert!("x".parse::<JobCursor>().is_err());
    }

    #[test]
    fn stats_sum_over_channels() {
        let row = |name: &str, state, count, ordered, age: Option<u64>| {
            JobStateCount::new(
                name.into(),
                state,
                count,
                ordered,
                age.map(Duration::from_secs),
            )
        };
        let stats = QueueStats {
            paused: Vec::new(),
            counts: vec![
                row("a", JobState::Ready, 3, 0, Some(5)),
                row("a", JobState::Failed, 2, 1, None),
                row("b", JobState::Ready, 1, 0, Some(9)),
                row("b", JobState::Running, 4, 0, None),
            ],
        };
        assert_eq!(stats.total(JobState::Ready), 4);
        assert_eq!(stats.running(), 4);
        assert_eq!(stats.oldest_ready_age(), Some(Duration::from_secs(9)));
        assert_eq!(stats.blocked_ordered_channels(), 1);
        assert_eq!(stats.channel_names(), vec!["a", "b"]);
        assert_eq!(QueueStats::default().oldest_ready_age(), None);
    }
}
