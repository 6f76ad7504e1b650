//! The storage boundary: everything the runner needs from a database.
//!
//! Every operation that must be atomic in storage is a method of
//! [`Backend`], named entity first (`job_claim`, `job_complete`...) and
//! taking one params struct. The PostgreSQL drivers implement each method
//! with one statement of the same name, and the in-memory backend
//! ([`MemoryBackend`](crate::memory::MemoryBackend), feature `testing`)
//! implements the same semantics; the conformance suite
//! ([`conformance`](crate::conformance)) holds them to it.
//!
//! Times: every params struct that depends on the clock carries `now`.
//! `None` means the backend's own clock (the database server's `now()`),
//! which is what the runner always passes; tests pass a fixed time so that
//! delays and leases can be checked without sleeping.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::builder::NewJob;
use crate::error::Result;
use crate::spawner::Spawner;

/// One claim of one job: the fencing token a runner holds while it runs
/// the job. Every state change made on behalf of a running job names its
/// lease, and is refused once the lease is no longer current, so a runner
/// whose lease lapsed cannot complete, fail or checkpoint a job that
/// another runner has taken over.
///
/// The token counts the job's claims and never goes back, unlike the
/// attempt number, which a release gives back and a manual retry resets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct JobLease {
    /// The job.
    pub id: Uuid,
    /// The claim's number: 1 for the first claim, 2 for the next...
    pub token: i32,
}

/// A channel: a channel name and its arguments.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ChannelKey {
    /// The channel name.
    pub name: String,
    /// The channel arguments.
    pub args: String,
}

/// The state a job is in. Completed jobs are deleted, so they have no state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobState {
    /// Spawned with a commit interval and not committed yet: invisible to
    /// runners.
    Uncommitted,
    /// Waiting for its time: spawned with a delay, or backing off before a
    /// retry.
    Scheduled,
    /// Ready to run (an ordered job may still wait for its predecessors).
    Ready,
    /// Held by a runner until its lease expires.
    Running,
    /// Out of attempts; kept, with its last error, until deleted.
    Failed,
}

impl JobState {
    /// The state's name as stored in PostgreSQL's `mq_job_state` type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uncommitted => "uncommitted",
            Self::Scheduled => "scheduled",
            Self::Ready => "ready",
            Self::Running => "running",
            Self::Failed => "failed",
        }
    }

    /// Parses the name stored in PostgreSQL.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "uncommitted" => Self::Uncommitted,
            "scheduled" => Self::Scheduled,
            "ready" => Self::Ready,
            "running" => Self::Running,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parameters of [`Backend::job_insert`].
#[derive(Debug)]
pub struct JobInsertParams<'a> {
    /// The jobs to insert, all in one statement.
    pub jobs: Vec<&'a NewJob>,
    /// The time of spawning; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// Parameters of [`Backend::job_claim`].
#[derive(Debug)]
pub struct JobClaimParams<'a> {
    /// Only claim jobs of these channel names (any arguments); `None` for all.
    pub channel_names: Option<&'a [String]>,
    /// Claim at most this many jobs.
    pub limit: u32,
    /// How long the claimed jobs are held before another runner may take
    /// them over (unless kept alive).
    pub lease: Duration,
    /// The fairness cursor: channels are visited in key order starting
    /// after this one, wrapping around, so that one claim's channels follow
    /// the previous claim's.
    pub after: Option<&'a ChannelKey>,
    /// The time of the claim; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// A job handed to a runner by [`Backend::job_claim`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimedJob {
    /// The job.
    pub id: Uuid,
    /// This attempt's number (1 for the first run).
    pub attempt: i32,
    /// The lease token of this claim.
    pub lease_token: i32,
    /// The job's name.
    pub name: String,
    /// The channel name.
    pub channel_name: String,
    /// The channel arguments.
    pub channel_args: String,
    /// Whether the job is ordered.
    pub ordered: bool,
    /// Attempts allowed after the first.
    pub retries: i32,
    /// The wait before the first retry.
    pub retry_backoff: Duration,
    /// The JSON payload as text.
    pub payload_json: Option<String>,
    /// The binary payload.
    pub payload_bytes: Option<Vec<u8>>,
}

impl ClaimedJob {
    /// Builds a claimed job; for backends outside this crate.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: Uuid,
        attempt: i32,
        lease_token: i32,
        name: String,
        channel_name: String,
        channel_args: String,
        ordered: bool,
        retries: i32,
        retry_backoff: Duration,
        payload_json: Option<String>,
        payload_bytes: Option<Vec<u8>>,
    ) -> Self {
        Self {
            id,
            attempt,
            lease_token,
            name,
            channel_name,
            channel_args,
            ordered,
            retries,
            retry_backoff,
            payload_json,
            payload_bytes,
        }
    }

    /// The lease this claim holds.
    pub fn lease(&self) -> JobLease {
        JobLease {
            id: self.id,
            token: self.lease_token,
        }
    }

    /// The job's channel.
    pub fn channel(&self) -> ChannelKey {
        ChannelKey {
            name: self.channel_name.clone(),
            args: self.channel_args.clone(),
        }
    }
}

/// The fairness cursor for the claim after one that returned `jobs`: the
/// last channel that claim visited. Claims visit the channels after the
/// cursor in key order, then wrap around to the first, so the last visited
/// is the greatest key at or before the cursor if the claim wrapped, else
/// the greatest key. `None` when `jobs` is empty (keep the old cursor).
pub fn claim_cursor(cursor: Option<&ChannelKey>, jobs: &[ClaimedJob]) -> Option<ChannelKey> {
    fn key(job: &ClaimedJob) -> (&str, &str) {
        (job.channel_name.as_str(), job.channel_args.as_str())
    }
    let after = |job: &&ClaimedJob| match cursor {
        Some(c) => key(job) > (c.name.as_str(), c.args.as_str()),
        None => true,
    };
    let wrapped = jobs
        .iter()
        .filter(|job| !after(job))
        .max_by(|a, b| key(a).cmp(&key(b)));
    wrapped
        .or_else(|| jobs.iter().max_by(|a, b| key(a).cmp(&key(b))))
        .map(ClaimedJob::channel)
}

/// Parameters of [`Backend::job_complete`].
#[derive(Debug)]
pub struct JobCompleteParams<'a> {
    /// The attempts that completed.
    pub leases: &'a [JobLease],
}

/// Parameters of [`Backend::job_fail`].
#[derive(Debug)]
pub struct JobFailParams<'a> {
    /// The attempt that failed.
    pub lease: JobLease,
    /// When attempts remain, how long to wait before the next one.
    pub retry_delay: Duration,
    /// What went wrong, recorded with the job.
    pub error: &'a str,
    /// The time of failure; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// What [`Backend::job_fail`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobFailOutcome {
    /// The job will be retried (it is scheduled, or ready if the delay is 0).
    Retrying,
    /// The job is out of attempts and is now failed.
    Failed,
    /// The lease was not current; nothing changed.
    LeaseLost,
}

/// Parameters of [`Backend::job_release`].
#[derive(Debug)]
pub struct JobReleaseParams {
    /// The claim to give back; it does not count as an attempt.
    pub lease: JobLease,
    /// How long to wait before the job is ready again.
    pub delay: Duration,
    /// The time of release; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// Parameters of [`Backend::job_keep_alive`].
#[derive(Debug)]
pub struct JobKeepAliveParams<'a> {
    /// The attempts to keep.
    pub leases: &'a [JobLease],
    /// The new lease length, counted from now.
    pub lease: Duration,
    /// The time; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// Parameters of [`Backend::job_checkpoint`].
#[derive(Debug)]
pub struct JobCheckpointParams<'a> {
    /// The running attempt.
    pub lease: JobLease,
    /// A new JSON payload, or `None` to keep the current one.
    pub payload_json: Option<&'a str>,
    /// A new binary payload, or `None` to keep the current one.
    pub payload_bytes: Option<&'a [u8]>,
    /// Attempts to add to the job's retries.
    pub extra_retries: u32,
}

/// Parameters of [`Backend::job_commit`].
#[derive(Debug)]
pub struct JobCommitParams<'a> {
    /// The jobs to commit.
    pub ids: &'a [Uuid],
    /// The time; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// Parameters of [`Backend::job_clear`].
#[derive(Debug)]
pub struct JobClearParams<'a> {
    /// Delete the jobs of these channel names; `None` deletes every job.
    pub channel_names: Option<&'a [String]>,
}

/// Parameters of [`Backend::job_schedule`].
#[derive(Debug, Default)]
pub struct JobScheduleParams {
    /// The time; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// What [`Backend::job_schedule`] did, and when it is next needed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobScheduleResult {
    /// Scheduled jobs whose time came, now ready.
    pub made_ready: u64,
    /// Running jobs whose lease lapsed: ready again, or failed if out of
    /// attempts.
    pub rescued: u64,
    /// Uncommitted jobs whose commit interval lapsed, deleted.
    pub discarded: u64,
    /// How long until the next of these events is due, if any is pending.
    pub next_due_in: Option<Duration>,
}

impl JobScheduleResult {
    /// Builds a result; for backends outside this crate.
    pub fn new(
        made_ready: u64,
        rescued: u64,
        discarded: u64,
        next_due_in: Option<Duration>,
    ) -> Self {
        Self {
            made_ready,
            rescued,
            discarded,
            next_due_in,
        }
    }
}

/// A hint that the runner should look for work.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Wakeup {
    /// Jobs became ready on this channel name (`None`: on some channel).
    Ready {
        /// The channel name, when known.
        channel_name: Option<String>,
    },
    /// Jobs were spawned for later (with a delay or awaiting commit): the
    /// next due time may have moved.
    Scheduled {
        /// The channel name, when known.
        channel_name: Option<String>,
    },
    /// Notifications may have been missed (the listening connection was
    /// re-established): look at everything again.
    Resync,
}

/// What a backend can do beyond the required semantics. Conformance cases
/// that depend on a capability check it instead of being forked.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Capabilities {
    /// The backend honours an explicit `now` in params (a test clock).
    pub explicit_now: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self { explicit_now: true }
    }
}

/// Storage for jobs. See the [module docs](self).
///
/// All methods may be called concurrently from many tasks and processes;
/// implementations must keep the documented semantics under concurrency
/// (a job is handed to one runner at a time).
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// What this backend supports.
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }

    /// The runtime this backend's background work (and the runner using it)
    /// runs on.
    fn spawner(&self) -> Arc<dyn Spawner>;

    /// Creates or upgrades the backend's storage. Safe to call from many
    /// processes at once.
    async fn migrate(&self) -> Result<()>;

    /// Inserts jobs: a job without delay or commit interval is ready at
    /// once, one with a delay is scheduled, one with a commit interval is
    /// uncommitted. Ordered jobs take their place in their channel's order
    /// now, even when uncommitted. Wakes up listening runners.
    async fn job_insert(&self, params: JobInsertParams<'_>) -> Result<()>;

    /// Claims up to `limit` ready jobs, fairly across channels, and holds
    /// them for `lease`. Within a channel, jobs come in spawn order; an
    /// ordered job only when no ordered job spawned before it on its channel
    /// remains.
    async fn job_claim(&self, params: JobClaimParams<'_>) -> Result<Vec<ClaimedJob>>;

    /// Deletes completed jobs. Returns the leases that were current (and so
    /// completed); the others were lost and changed nothing.
    async fn job_complete(&self, params: JobCompleteParams<'_>) -> Result<Vec<JobLease>>;

    /// Records a failed attempt: the job is retried after `retry_delay` if
    /// it has attempts left (its attempt number is at most its retries),
    /// else it is failed for good.
    async fn job_fail(&self, params: JobFailParams<'_>) -> Result<JobFailOutcome>;

    /// Gives a claimed job back without counting the attempt (for example,
    /// a job this runner has no function for). Returns whether the lease
    /// was current.
    async fn job_release(&self, params: JobReleaseParams) -> Result<bool>;

    /// Extends the leases of running jobs. Returns the leases that were
    /// current (and so extended).
    async fn job_keep_alive(&self, params: JobKeepAliveParams<'_>) -> Result<Vec<JobLease>>;

    /// Replaces a running job's payload for its next attempts and adds
    /// retries. Returns whether the lease was current.
    async fn job_checkpoint(&self, params: JobCheckpointParams<'_>) -> Result<bool>;

    /// Commits two-phase jobs. Returns the ids that are not waiting for a
    /// commit (missing, or their interval lapsed); committing an already
    /// committed job is not an error.
    async fn job_commit(&self, params: JobCommitParams<'_>) -> Result<Vec<Uuid>>;

    /// Deletes the jobs of some channel names, or all jobs. Returns how many.
    async fn job_clear(&self, params: JobClearParams<'_>) -> Result<u64>;

    /// Whether a job exists (it has not completed, been cleared or been
    /// discarded).
    async fn job_exists(&self, id: Uuid) -> Result<bool>;

    /// The state of a job, or `None` if it does not exist.
    async fn job_state(&self, id: Uuid) -> Result<Option<JobState>>;

    /// Time-driven transitions: scheduled jobs whose time came become ready;
    /// running jobs whose lease lapsed become ready (or failed when out of
    /// attempts); uncommitted jobs whose interval lapsed are deleted.
    /// Returns when the next such transition is due.
    async fn job_schedule(&self, params: JobScheduleParams) -> Result<JobScheduleResult>;

    /// A stream of wake-ups for runners. The stream may end or go quiet;
    /// runners always keep polling on a timer as well.
    async fn listen(&self) -> Result<BoxStream<'static, Wakeup>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, args: &str) -> ClaimedJob {
        ClaimedJob::new(
            Uuid::nil(),
            1,
            1,
            "j".into(),
            name.into(),
            args.into(),
            false,
            0,
            Duration::ZERO,
            None,
            None,
        )
    }

    fn key(name: &str, args: &str) -> ChannelKey {
        ChannelKey {
            name: name.into(),
            args: args.into(),
        }
    }

    #[test]
    fn cursor_is_the_greatest_channel_without_wrapping() {
        let jobs = [job("b", ""), job("c", "x"), job("c", "")];
        assert_eq!(
            claim_cursor(Some(&key("a", "")), &jobs),
            Some(key("c", "x"))
        );
        assert_eq!(claim_cursor(None, &jobs), Some(key("c", "x")));
    }

    #[test]
    fn cursor_after_wrapping_is_the_last_wrapped_channel() {
        let jobs = [job("d", ""), job("e", ""), job("a", ""), job("b", "")];
        assert_eq!(claim_cursor(Some(&key("c", "")), &jobs), Some(key("b", "")));
    }

    #[test]
    fn no_jobs_keep_the_cursor() {
        assert_eq!(claim_cursor(Some(&key("c", "")), &[]), None);
    }
}
