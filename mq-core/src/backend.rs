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

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use time::OffsetDateTime;
use uuid::Uuid;

pub use crate::activity::{
    ActivityRecordParams, MinuteCount, RunnerInfo, RunnerListParams, ThroughputListParams,
};
use crate::builder::NewJob;
use crate::error::Result;
pub use crate::limits::{
    ChannelLimitParams, ChannelLimitsParams, JobClaimLimitedParams, LimitAction, LimitInfo,
};
pub use crate::periodic::storage::{
    DeclaredSchedule, ScheduleDeclareParams, ScheduleDeclared, ScheduleFireParams, ScheduleInfo,
    ScheduleLease, ScheduleListParams, ScheduleReleaseParams,
};
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

/// The state a job is in. Completed jobs are deleted, and so have no state,
/// unless the runner keeps them
/// ([`JobRunnerOptions::set_keep_completed`](crate::JobRunnerOptions::set_keep_completed)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum JobState {
    /// Spawned with a commit interval and not committed yet: invisible to
    /// runners.
    Uncommitted,
    /// An ordered job waiting for the ordered jobs spawned before it on its
    /// channel: it becomes uncommitted, scheduled or ready (as its commit
    /// interval and delay say) once none of them holds the channel any
    /// more.
    Blocked,
    /// Waiting for its time: spawned with a delay, or backing off before a
    /// retry.
    Scheduled,
    /// Ready to run.
    Ready,
    /// Held by a runner until its lease expires.
    Running,
    /// Out of attempts; kept, with its errors, until retried or deleted.
    Failed,
    /// Completed by a runner that keeps completed jobs; kept until pruned.
    Completed,
    /// Cancelled ([`cancel`](crate::cancel)) before it finished; kept, like
    /// failed jobs, until deleted or pruned. A cancelled ordered job no
    /// longer holds its channel.
    Cancelled,
}

impl JobState {
    /// The state's name as stored in PostgreSQL's `mq_job_state` type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uncommitted => "uncommitted",
            Self::Blocked => "blocked",
            Self::Scheduled => "scheduled",
            Self::Ready => "ready",
            Self::Running => "running",
            Self::Failed => "failed",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Every state, in the order of a job's life.
    pub const ALL: [JobState; 8] = [
        Self::Uncommitted,
        Self::Blocked,
        Self::Scheduled,
        Self::Ready,
        Self::Running,
        Self::Failed,
        Self::Completed,
        Self::Cancelled,
    ];

    /// Parses the name stored in PostgreSQL.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "uncommitted" => Self::Uncommitted,
            "blocked" => Self::Blocked,
            "scheduled" => Self::Scheduled,
            "ready" => Self::Ready,
            "running" => Self::Running,
            "failed" => Self::Failed,
            "completed" => Self::Completed,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JobState {
    type Err = crate::error::Error;

    fn from_str(name: &str) -> Result<Self> {
        Self::parse(name).ok_or_else(|| {
            crate::error::Error::invalid(
                "state",
                format!(
                    "{name:?} is not a job state (one of uncommitted, blocked, scheduled, ready, running, failed, completed, cancelled)"
                ),
            )
        })
    }
}

/// How many failed attempts a job's error history keeps: the latest.
pub const MAX_ERROR_HISTORY: usize = 20;

/// An error text as backends store it: at most
/// [`MAX_ERROR_TEXT`](crate::registry::MAX_ERROR_TEXT) bytes (cut at a
/// character boundary), and without NUL characters, which PostgreSQL's text
/// cannot hold (each becomes U+FFFD). Every backend passes the error of
/// [`Backend::job_fail`] through this, whoever called it.
pub fn bound_error_text(error: &str) -> Cow<'_, str> {
    fn cut(text: &str) -> usize {
        let mut end = text.len().min(crate::registry::MAX_ERROR_TEXT);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        end
    }
    if error.contains('\0') {
        let mut text = error.replace('\0', "\u{fffd}");
        text.truncate(cut(&text));
        Cow::Owned(text)
    } else {
        Cow::Borrowed(&error[..cut(error)])
    }
}

/// One failed attempt in a job's error history.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedAttempt {
    /// The attempt's number (1 for the first run). Numbers start again
    /// from 1 after a manual retry.
    pub attempt: i32,
    /// When the failure was recorded.
    pub at: OffsetDateTime,
    /// What went wrong: the job's error or panic message, or why the
    /// attempt was given up (its lease lapsed...), at most
    /// [`MAX_ERROR_TEXT`](crate::registry::MAX_ERROR_TEXT) bytes.
    pub error: String,
}

impl FailedAttempt {
    /// Builds a failed attempt; for backends outside this crate.
    pub fn new(attempt: i32, at: OffsetDateTime, error: String) -> Self {
        Self { attempt, at, error }
    }
}

/// What [`Backend::job_insert`] did with one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Spawned {
    /// The job was inserted, with this id.
    Inserted(Uuid),
    /// Nothing was inserted: the job with this id holds the job's unique
    /// key ([`JobBuilder::set_unique_key`](crate::JobBuilder::set_unique_key)).
    Duplicate(Uuid),
}

impl Spawned {
    /// The id of the job that will do the work: the new one, or the one
    /// holding the key.
    pub fn id(&self) -> Uuid {
        match *self {
            Spawned::Inserted(id) | Spawned::Duplicate(id) => id,
        }
    }

    /// Whether the job was inserted.
    pub fn is_inserted(&self) -> bool {
        matches!(self, Spawned::Inserted(_))
    }
}

/// Everything stored about a job, as [`Backend::job_get`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobInfo {
    /// The job.
    pub id: Uuid,
    /// The job's place in spawn order (unique, increasing).
    pub seq: i64,
    /// Its state.
    pub state: JobState,
    /// The job's name.
    pub name: String,
    /// The channel name.
    pub channel_name: String,
    /// The channel arguments.
    pub channel_args: String,
    /// Whether the job is ordered on its channel.
    pub ordered: bool,
    /// Attempts started so far (0 before the first; a manual retry starts
    /// again from 0).
    pub attempt: i32,
    /// Attempts allowed after the first.
    pub retries: i32,
    /// The wait before the first retry.
    pub retry_backoff: Duration,
    /// The longest wait between attempts, if capped.
    pub retry_backoff_max: Option<Duration>,
    /// Whether waits between attempts are jittered.
    pub retry_jitter: bool,
    /// How long one attempt may run ([`NewJob::timeout`]).
    pub timeout: Option<Duration>,
    /// Its priority within its channel ([`NewJob::priority`]).
    pub priority: i16,
    /// Its unique key ([`NewJob::unique_key`]). A backend may clear it
    /// once the job holds it no more (a retried job runs without it).
    pub unique_key: Option<String>,
    /// How long after completing it holds its key ([`NewJob::unique_for`]).
    pub unique_for: Option<Duration>,
    /// The trace it was spawned in ([`NewJob::trace_context`]).
    pub trace_context: Option<String>,
    /// The tick of the periodic schedule it was spawned for
    /// ([`NewJob::tick`]); `None` for jobs spawned otherwise.
    pub tick: Option<OffsetDateTime>,
    /// Depends on the state: when a scheduled job becomes ready, when a
    /// ready job became ready, when a running job's lease lapses, when a
    /// failed job failed, when a completed job completed.
    pub run_at: OffsetDateTime,
    /// When an uncommitted job is discarded if it is still uncommitted.
    pub commit_deadline: Option<OffsetDateTime>,
    /// When the job was spawned.
    pub created_at: OffsetDateTime,
    /// The JSON payload as text.
    pub payload_json: Option<String>,
    /// The binary payload.
    pub payload_bytes: Option<Vec<u8>>,
    /// The latest failed attempts, oldest first, at most
    /// [`MAX_ERROR_HISTORY`].
    pub errors: Vec<FailedAttempt>,
    /// For an ordered job that has not completed or been cancelled: how
    /// many such ordered jobs of its channel (name and arguments) were
    /// spawned before it, and so run before it (0 for the job that holds
    /// the channel). `None` for other jobs.
    pub ordered_ahead: Option<u64>,
}

impl JobInfo {
    /// A job with this id, name and state, and every other field empty (the
    /// times at the Unix epoch); for backends outside this crate, which then
    /// set the fields.
    pub fn new(id: Uuid, name: String, state: JobState) -> Self {
        Self {
            id,
            seq: 0,
            state,
            name,
            channel_name: String::new(),
            channel_args: String::new(),
            ordered: false,
            attempt: 0,
            retries: 0,
            retry_backoff: Duration::ZERO,
            retry_backoff_max: None,
            retry_jitter: false,
            timeout: None,
            priority: 0,
            unique_key: None,
            unique_for: None,
            trace_context: None,
            tick: None,
            run_at: OffsetDateTime::UNIX_EPOCH,
            commit_deadline: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            payload_json: None,
            payload_bytes: None,
            errors: Vec::new(),
            ordered_ahead: None,
        }
    }

    /// The latest failed attempt, if any.
    pub fn last_error(&self) -> Option<&FailedAttempt> {
        self.errors.last()
    }
}

/// A job as [`Backend::job_list`] returns it: [`JobInfo`] without its
/// payloads and with only its latest error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobSummary {
    /// The job.
    pub id: Uuid,
    /// The job's place in spawn order (unique, increasing).
    pub seq: i64,
    /// Its state.
    pub state: JobState,
    /// The job's name.
    pub name: String,
    /// The channel name.
    pub channel_name: String,
    /// The channel arguments.
    pub channel_args: String,
    /// Whether the job is ordered on its channel.
    pub ordered: bool,
    /// Attempts started so far.
    pub attempt: i32,
    /// Attempts allowed after the first.
    pub retries: i32,
    /// See [`JobInfo::run_at`].
    pub run_at: OffsetDateTime,
    /// When the job was spawned.
    pub created_at: OffsetDateTime,
    /// The latest failed attempt, if any.
    pub last_error: Option<FailedAttempt>,
}

impl JobSummary {
    /// A job with this id, name and state, and every other field empty (the
    /// times at the Unix epoch); for backends outside this crate, which then
    /// set the fields.
    pub fn new(id: Uuid, name: String, state: JobState) -> Self {
        JobInfo::new(id, name, state).into()
    }
}

impl From<JobInfo> for JobSummary {
    fn from(job: JobInfo) -> Self {
        Self {
            id: job.id,
            seq: job.seq,
            state: job.state,
            name: job.name,
            channel_name: job.channel_name,
            channel_args: job.channel_args,
            ordered: job.ordered,
            attempt: job.attempt,
            retries: job.retries,
            run_at: job.run_at,
            created_at: job.created_at,
            last_error: job.errors.last().cloned(),
        }
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
    /// Claim only from these channels, each from a place in the ready
    /// queue on, visiting them in this order; `None` for a claim over all
    /// channels. With targets, `channel_names` and `after` are not used.
    /// See [`ClaimTarget`].
    pub targets: Option<&'a [ClaimTarget]>,
    /// The time of the claim; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// A channel a targeted claim ([`JobClaimParams::targets`]) takes jobs
/// from, and where in its ready queue to start.
///
/// Every time a job becomes ready it takes the next place in the ready
/// queue of its priority ([`ClaimedJob::ready_seq`], see
/// [`ready_queue`](crate::ready_queue)), and within a channel claims take
/// jobs in that order. A runner that remembers where its last claim of a
/// channel and priority stopped can start the next one there, and
/// PostgreSQL then seeks straight past the jobs claimed before, however
/// many of their dead index entries a held-back xmin horizon keeps around.
/// Jobs before the start are not claimed by a targeted claim; the runner's
/// claims over all channels find them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClaimTarget {
    /// The channel.
    pub channel: ChannelKey,
    /// Take only jobs of this priority...
    pub priority: i16,
    /// ...whose [`ClaimedJob::ready_seq`] is at least this.
    pub from_ready_seq: i64,
}

impl ClaimTarget {
    /// The places in the ready queue this target takes jobs from: from
    /// `from_ready_seq` to the end of its priority's places.
    pub fn ready_seqs(&self) -> std::ops::Range<i64> {
        let places = crate::ready_queue::places(self.priority);
        self.from_ready_seq.max(places.start)..places.end
    }
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
    /// The longest wait between attempts, if capped (see
    /// [`ClaimedJob::with_retry_limits`]).
    pub retry_backoff_max: Option<Duration>,
    /// Whether waits between attempts are jittered.
    pub retry_jitter: bool,
    /// How long the attempt may run ([`NewJob::timeout`]).
    pub timeout: Option<Duration>,
    /// The JSON payload as text.
    pub payload_json: Option<String>,
    /// The binary payload.
    pub payload_bytes: Option<Vec<u8>>,
    /// The job's place in the ready queue: each time a job becomes ready it
    /// takes a place after every job of its priority that became ready
    /// before, and before every job of lower priority (see
    /// [`ready_queue`](crate::ready_queue)). 0 from backends that do not
    /// number ready jobs. See [`ClaimTarget`].
    pub ready_seq: i64,
    /// The trace the job was spawned in ([`NewJob::trace_context`]), the
    /// same for every attempt.
    pub trace_context: Option<String>,
    /// The tick of the periodic schedule the job was spawned for
    /// ([`NewJob::tick`]), the same for every attempt.
    pub tick: Option<OffsetDateTime>,
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
            retry_backoff_max: None,
            retry_jitter: false,
            timeout: None,
            payload_json,
            payload_bytes,
            ready_seq: 0,
            trace_context: None,
            tick: None,
        }
    }

    /// Sets the job's cap on the wait between attempts and its jitter
    /// ([`NewJob::retry_backoff_max`], [`NewJob::retry_jitter`]); without,
    /// neither applies.
    pub fn with_retry_limits(mut self, backoff_max: Option<Duration>, jitter: bool) -> Self {
        self.retry_backoff_max = backoff_max;
        self.retry_jitter = jitter;
        self
    }

    /// Sets how long the attempt may run ([`ClaimedJob::timeout`]).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the job's place in the ready queue ([`ClaimedJob::ready_seq`]).
    pub fn with_ready_seq(mut self, ready_seq: i64) -> Self {
        self.ready_seq = ready_seq;
        self
    }

    /// Sets the trace the job was spawned in
    /// ([`ClaimedJob::trace_context`]).
    pub fn with_trace_context(mut self, trace_context: Option<String>) -> Self {
        self.trace_context = trace_context;
        self
    }

    /// Sets the tick the job was spawned for ([`ClaimedJob::tick`]).
    pub fn with_tick(mut self, tick: Option<OffsetDateTime>) -> Self {
        self.tick = tick;
        self
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
    /// Keep the jobs, in state completed, instead of deleting them.
    pub keep_completed: bool,
    /// Skip the jobs whose rows another transaction holds
    /// ([`LeaseOutcome::Busy`]) instead of waiting for that transaction.
    /// Runners skip, so that one open transaction cannot stall a batch;
    /// a completion in the caller's own transaction waits.
    pub skip_busy: bool,
    /// The time of completion, recorded for kept jobs; `None` for the
    /// backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// What a batch statement on running jobs did with one lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeaseOutcome {
    /// The lease was current and the change is made.
    Done,
    /// The lease is current but another transaction holds the job's row
    /// (the caller's own transaction that completed it and has not ended,
    /// or another statement of the runner): nothing changed; try again.
    Busy,
    /// The lease is not current (the job was taken over, deleted or
    /// completed): nothing changed, and nothing will.
    Lost,
}

/// One failed attempt for [`Backend::job_fail`].
#[derive(Debug, Clone, Copy)]
pub struct JobFailure<'a> {
    /// The attempt that failed.
    pub lease: JobLease,
    /// When attempts remain, how long to wait before the next one.
    pub retry_delay: Duration,
    /// What went wrong, recorded with the job.
    pub error: &'a str,
}

/// Parameters of [`Backend::job_fail`].
#[derive(Debug)]
pub struct JobFailParams<'a> {
    /// The attempts that failed.
    pub failures: &'a [JobFailure<'a>],
    /// The time of failure; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// What [`Backend::job_fail`] did with one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobFailOutcome {
    /// The job will be retried (it is scheduled, or ready if the delay is 0).
    Retrying,
    /// The job is out of attempts and is now failed.
    Failed,
    /// The lease is current but another transaction holds the job's row;
    /// nothing changed (see [`LeaseOutcome::Busy`]).
    Busy,
    /// The lease was not current; nothing changed.
    LeaseLost,
}

/// Parameters of [`Backend::job_release`].
#[derive(Debug)]
pub struct JobReleaseParams<'a> {
    /// The claims to give back; they do not count as attempts.
    pub leases: &'a [JobLease],
    /// How long to wait before the jobs are ready again.
    pub delay: Duration,
    /// Skip jobs whose rows another transaction holds (reported
    /// [`LeaseOutcome::Busy`]) instead of waiting for them: what a
    /// runner's batches do. A release in the caller's own transaction
    /// waits.
    pub skip_busy: bool,
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
    /// Also holds the job for at least this long from `now`.
    pub keep_alive: Option<Duration>,
    /// The time; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// Parameters of [`Backend::job_commit`].
#[derive(Debug)]
pub struct JobCommitParams<'a> {
    /// The jobs to commit.
    pub ids: &'a [Uuid],
    /// The time; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// Which jobs an inspection or repair call applies to: every condition
/// given must hold (none given: every job).
#[derive(Clone, Copy, Debug, Default)]
pub struct JobFilter<'a> {
    /// Only these jobs.
    pub ids: Option<&'a [Uuid]>,
    /// Only jobs of these channel names (with any arguments).
    pub channel_names: Option<&'a [String]>,
    /// Only jobs of these names.
    pub names: Option<&'a [String]>,
    /// Only jobs in these states.
    pub states: Option<&'a [JobState]>,
    /// Only failed and completed jobs that failed or completed at least
    /// this long before `now` ([`JobInfo::run_at`]).
    pub finished_before: Option<Duration>,
    /// The time `finished_before` counts back from (and, for
    /// [`Backend::job_retry`], when the jobs are ready); `None` for the
    /// backend's clock.
    pub now: Option<OffsetDateTime>,
}

impl JobFilter<'_> {
    /// Whether a job passes the filter, for backends that test jobs one by
    /// one (the in-memory backend). `finished_at` is the job's `run_at`.
    pub fn matches(
        &self,
        id: Uuid,
        name: &str,
        channel_name: &str,
        state: JobState,
        run_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> bool {
        self.ids.is_none_or(|ids| ids.contains(&id))
            && self
                .channel_names
                .is_none_or(|names| names.iter().any(|n| n == channel_name))
            && self
                .names
                .is_none_or(|names| names.iter().any(|n| n == name))
            && self.states.is_none_or(|states| states.contains(&state))
            && self.finished_before.is_none_or(|age| {
                matches!(
                    state,
                    JobState::Failed | JobState::Completed | JobState::Cancelled
                ) && run_at <= now - age
            })
    }
}

/// Parameters of [`Backend::job_get`].
#[derive(Debug)]
pub struct JobGetParams {
    /// The job.
    pub id: Uuid,
}

/// Parameters of [`Backend::job_list`].
#[derive(Debug, Default)]
pub struct JobListParams<'a> {
    /// Which jobs.
    pub filter: JobFilter<'a>,
    /// Only jobs after this one in id order: the last one of the
    /// previous page.
    pub after: Option<Uuid>,
    /// At most this many jobs.
    pub limit: u32,
}

/// Parameters of [`Backend::job_retry`].
#[derive(Debug, Default)]
pub struct JobRetryParams<'a> {
    /// Which jobs: of those, the failed ones are retried.
    pub filter: JobFilter<'a>,
}

/// Parameters of [`Backend::job_delete`].
#[derive(Debug, Default)]
pub struct JobDeleteParams<'a> {
    /// Which jobs, in any state.
    pub filter: JobFilter<'a>,
}

/// Parameters of [`Backend::migrate`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct MigrateParams {}

/// Parameters of [`Backend::job_vacuum`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct JobVacuumParams {}

/// Parameters of [`Backend::listen`].
#[derive(Clone, Copy)]
pub struct ListenParams<'a> {
    /// The runner's runtime: background work the listening needs (a
    /// connection's I/O, reconnecting) runs on it, never on a runtime the
    /// backend picks itself.
    pub spawner: &'a Arc<dyn Spawner>,
}

impl fmt::Debug for ListenParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenParams").finish_non_exhaustive()
    }
}

/// Parameters of [`Backend::job_stats`].
#[derive(Debug, Default)]
pub struct JobStatsParams {
    /// The time ages are measured at; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// The jobs of one channel name in one state, as [`Backend::job_stats`]
/// counts them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobStateCount {
    /// The channel name (the counts cover all its arguments).
    pub channel_name: String,
    /// The state.
    pub state: JobState,
    /// How many jobs.
    pub count: u64,
    /// How many of them are ordered. Failed ordered jobs each hold their
    /// channel until retried or deleted.
    pub ordered: u64,
    /// For ready jobs: how long the one ready the longest has been
    /// waiting. `None` for other states.
    pub oldest_ready_age: Option<Duration>,
}

impl JobStateCount {
    /// Builds a count; for backends outside this crate.
    pub fn new(
        channel_name: String,
        state: JobState,
        count: u64,
        ordered: u64,
        oldest_ready_age: Option<Duration>,
    ) -> Self {
        Self {
            channel_name,
            state,
            count,
            ordered,
            oldest_ready_age,
        }
    }
}

/// Job counts per channel name and state, and the paused channels: what
/// [`Backend::job_stats`] and [`admin::stats`](crate::admin::stats) return.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStats {
    /// One row per channel name and state that has jobs, ordered by
    /// channel name, then state.
    pub counts: Vec<JobStateCount>,
    /// The paused channel names, in order (see
    /// [`admin::pause`](crate::admin::pause)), whether they have jobs or not.
    pub paused: Vec<ChannelPause>,
}

impl QueueStats {
    /// Builds stats; for backends outside this crate.
    pub fn new(counts: Vec<JobStateCount>, paused: Vec<ChannelPause>) -> Self {
        Self { counts, paused }
    }

    /// Whether claims skip the jobs of this channel name.
    pub fn is_paused(&self, channel_name: &str) -> bool {
        self.paused
            .iter()
            .any(|pause| pause.channel_name == channel_name)
    }

    /// How many jobs are in `state`, over all channels.
    pub fn total(&self, state: JobState) -> u64 {
        self.counts
            .iter()
            .filter(|row| row.state == state)
            .map(|row| row.count)
            .sum()
    }

    /// How many jobs are running, over all channels.
    pub fn running(&self) -> u64 {
        self.total(JobState::Running)
    }

    /// How long the job ready the longest has been waiting, over all
    /// channels; `None` when no job is ready.
    pub fn oldest_ready_age(&self) -> Option<Duration> {
        self.counts
            .iter()
            .filter_map(|row| row.oldest_ready_age)
            .max()
    }

    /// How many ordered channels are held by a failed job, over all
    /// channel names.
    pub fn blocked_ordered_channels(&self) -> u64 {
        self.counts
            .iter()
            .filter(|row| row.state == JobState::Failed)
            .map(|row| row.ordered)
            .sum()
    }

    /// The channel names that have jobs, in order.
    pub fn channel_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .counts
            .iter()
            .map(|row| row.channel_name.as_str())
            .collect();
        names.dedup();
        names
    }
}

/// Parameters of [`Backend::job_cancel`].
#[derive(Debug)]
pub struct JobCancelParams<'a> {
    /// The jobs to cancel.
    pub ids: &'a [Uuid],
    /// The time recorded as the cancel's (the cancelled jobs' `run_at`);
    /// `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}

/// What [`cancel`](crate::cancel) did to a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelOutcome {
    /// It had not started (or was waiting to retry): it is cancelled and
    /// will not run.
    Cancelled,
    /// It was running: it is cancelled, and its runner is told
    /// ([`CurrentJob::cancelled`](crate::CurrentJob::cancelled)). Whatever
    /// the runner later records for this attempt changes nothing.
    CancelledRunning,
    /// It had finished already (failed, completed and kept, or cancelled):
    /// nothing changed.
    Finished(JobState),
}

/// A paused channel name, as [`QueueStats::paused`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelPause {
    /// The channel name (the pause covers all its arguments).
    pub channel_name: String,
    /// When it was paused.
    pub paused_at: OffsetDateTime,
}

impl ChannelPause {
    /// Builds a pause; for backends outside this crate.
    pub fn new(channel_name: String, paused_at: OffsetDateTime) -> Self {
        Self {
            channel_name,
            paused_at,
        }
    }
}

/// What [`Backend::channel_pause`] does to a channel name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseAction {
    /// Claims skip the channel's jobs from now on.
    Pause,
    /// Claims take the channel's jobs again.
    Resume,
}

/// Parameters of [`Backend::channel_pause`].
#[derive(Debug)]
pub struct ChannelPauseParams<'a> {
    /// The channel name: the pause covers all its arguments.
    pub channel_name: &'a str,
    /// Pause or resume.
    pub action: PauseAction,
    /// The time recorded as the pause's start; `None` for the backend's
    /// clock.
    pub now: Option<OffsetDateTime>,
}

/// Parameters of [`Backend::job_schedule`].
#[derive(Debug, Default)]
pub struct JobScheduleParams {
    /// The time; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
    /// Also unblock the first job of every ordered channel that has blocked
    /// jobs and none unblocked. Spawns and completions keep ordered
    /// channels settled as they commit, except in transactions at an
    /// isolation level above READ COMMITTED, which leave this to runners;
    /// runners ask for it when told so and every so often.
    pub settle_ordered: bool,
    /// Transitions due at or before this time may be skipped, because a run
    /// before made every one due until then
    /// ([`JobScheduleResult::due_until`]); `None` to look at all.
    /// Transitions due earlier that appear later (a transaction that
    /// spawned a delayed job and committed long after) then wait for a run
    /// with `None`. While the xmin horizon is held back,
    /// this keeps each run from walking the dead index entries of every
    /// lease taken since.
    pub due_after: Option<OffsetDateTime>,
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
    /// Ordered jobs unblocked by settling channels (see
    /// [`JobScheduleParams::settle_ordered`]).
    pub unblocked: u64,
    /// How long until the next scheduled job or commit deadline is due, if
    /// any is pending. Leases are left out: a lapsed one is found by the
    /// next run a runner makes anyway, every poll interval, and knowing the
    /// next to lapse would cost PostgreSQL a walk over every lease taken
    /// lately while the xmin horizon is held back.
    pub next_due_in: Option<Duration>,
    /// The run's time, when it made every transition due until then (it
    /// did not stop at its bound on one run's work): the next run may pass
    /// it as [`JobScheduleParams::due_after`].
    pub due_until: Option<OffsetDateTime>,
}

impl JobScheduleResult {
    /// Builds a result; for backends outside this crate.
    pub fn new(
        made_ready: u64,
        rescued: u64,
        discarded: u64,
        unblocked: u64,
        next_due_in: Option<Duration>,
    ) -> Self {
        Self {
            made_ready,
            rescued,
            discarded,
            unblocked,
            next_due_in,
            due_until: None,
        }
    }

    /// Sets [`JobScheduleResult::due_until`].
    pub fn with_due_until(mut self, due_until: OffsetDateTime) -> Self {
        self.due_until = Some(due_until);
        self
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
    /// Jobs became ready on this channel, at or after this place in the
    /// ready queue: a targeted claim ([`ClaimTarget`]) from there finds
    /// them.
    Queued {
        /// The channel.
        channel: ChannelKey,
        /// The least [`ClaimedJob::ready_seq`] of the new jobs.
        ready_seq: i64,
    },
    /// Jobs were spawned for later (with a delay or awaiting commit): the
    /// next due time may have moved.
    Scheduled {
        /// The channel name, when known.
        channel_name: Option<String>,
    },
    /// A running job was cancelled ([`Backend::job_cancel`]): its runner
    /// tells the job.
    Cancelled {
        /// The job.
        id: Uuid,
    },
    /// A transaction that could not settle its ordered channels itself
    /// (see [`JobScheduleParams::settle_ordered`]) asks runners to.
    SettleOrdered,
    /// Notifications may have been missed (the listening connection was
    /// re-established): look at everything again.
    Resync,
}

/// Storage for jobs. See the [module docs](self).
///
/// The methods are what a runner needs (claiming and recording outcomes,
/// time-driven transitions, wake-ups), what producers need (insert,
/// commit), and the few primitives that inspection and repair are built
/// from (get, list, stats, retry, delete); the conveniences over those
/// (a job's state, whether it exists, clearing channels, pruning) are on
/// [`BackendExt`](crate::BackendExt), which every backend gets.
///
/// A backend of your own (a fake for tests, a wrapper that injects faults)
/// implements this trait, and [`StandaloneBackend`](crate::StandaloneBackend)
/// to build runners on `&backend`; such a runner takes its runtime from
/// [`JobRunnerOptions::set_spawner`](crate::JobRunnerOptions::set_spawner).
///
/// All methods may be called concurrently from many tasks and processes;
/// implementations must keep the documented semantics under concurrency
/// (a job is handed to one runner at a time).
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Inserts jobs: a job without delay or commit interval is ready at
    /// once, one with a delay is scheduled, one with a commit interval is
    /// uncommitted. Ordered jobs take their place in their channel's order
    /// now, even when uncommitted. Wakes up listening runners.
    ///
    /// A job with a unique key ([`NewJob::unique_key`]) is not inserted
    /// while a job of the same name holds the key: one not finished, or
    /// completed less than its [`NewJob::unique_for`] ago (failed and
    /// cancelled jobs hold none). Of jobs of one batch with the same key,
    /// the first is inserted. Returns what became of each job, in order.
    async fn job_insert(&self, params: JobInsertParams<'_>) -> Result<Vec<Spawned>>;

    /// Commits two-phase jobs. Returns the ids that are not waiting for a
    /// commit (missing, or their interval lapsed); committing an already
    /// committed job is not an error.
    async fn job_commit(&self, params: JobCommitParams<'_>) -> Result<Vec<Uuid>>;

    /// Claims up to `limit` ready jobs, fairly across channels, and holds
    /// them for `lease`. Within a channel, jobs come in spawn order; an
    /// ordered job only when no ordered job spawned before it on its channel
    /// remains. Blocked ordered jobs cost a claim nothing: however many
    /// channels are blocked, a ready job anywhere is found. Paused channels
    /// and limited ones (see [`job_claim_limited`](Self::job_claim_limited))
    /// are passed over.
    async fn job_claim(&self, params: JobClaimParams<'_>) -> Result<Vec<ClaimedJob>>;

    /// Deletes completed jobs, or with `keep_completed` marks them
    /// completed (at `now`). Returns what became of each lease; with
    /// `skip_busy`, a job whose row another transaction holds is skipped,
    /// not waited for. When a completed job held an ordered channel, the
    /// next job of the channel is unblocked.
    async fn job_complete(
        &self,
        params: JobCompleteParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>>;

    /// Records failed attempts: each job is retried after its
    /// `retry_delay` if it has attempts left (its attempt number is at most
    /// its retries), else it is failed for good. Each error (bounded by
    /// [`bound_error_text`]) is appended to its job's history, which keeps
    /// the latest [`MAX_ERROR_HISTORY`]. Returns what became of each
    /// attempt, skipping rows another transaction holds.
    async fn job_fail(&self, params: JobFailParams<'_>) -> Result<Vec<(JobLease, JobFailOutcome)>>;

    /// Gives claimed jobs back without counting the attempts (a job this
    /// runner has no function for, or jobs claimed as the runner stopped).
    /// Returns what became of each lease.
    async fn job_release(
        &self,
        params: JobReleaseParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>>;

    /// Extends the leases of running jobs. Returns what became of each
    /// lease; a row another transaction holds is skipped, not waited for.
    async fn job_keep_alive(
        &self,
        params: JobKeepAliveParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>>;

    /// Replaces a running job's payload for its next attempts, adds
    /// retries, and optionally extends its lease. Returns whether the lease
    /// was current.
    async fn job_checkpoint(&self, params: JobCheckpointParams<'_>) -> Result<bool>;

    /// Time-driven transitions: scheduled jobs whose time came become ready;
    /// running jobs whose lease lapsed become ready (or failed when out of
    /// attempts); uncommitted jobs whose interval lapsed are deleted (and
    /// the ordered jobs behind them unblocked). With `settle_ordered`,
    /// ordered channels left blocked are settled too. Returns when the
    /// next such transition is due.
    async fn job_schedule(&self, params: JobScheduleParams) -> Result<JobScheduleResult>;

    /// Everything stored about a job, or `None` if it is not stored.
    async fn job_get(&self, params: JobGetParams) -> Result<Option<JobInfo>>;

    /// The jobs that pass the filter, in id order, after a given id, at
    /// most `limit`. mq's ids are UUIDv7, made in time order, so this is
    /// the order jobs were made in.
    async fn job_list(&self, params: JobListParams<'_>) -> Result<Vec<JobSummary>>;

    /// Counts jobs per channel name and state, ordered by both, and lists
    /// the paused channel names.
    async fn job_stats(&self, params: JobStatsParams) -> Result<QueueStats>;

    /// Cancels the jobs among `ids` that have not finished: they move to
    /// [`JobState::Cancelled`] at `now`, a cancelled ordered job stops
    /// holding its channel, and the runners of running ones are woken with
    /// [`Wakeup::Cancelled`]. Returns each stored job of `ids` once, with
    /// what became of it; jobs not stored are left out.
    async fn job_cancel(&self, params: JobCancelParams<'_>) -> Result<Vec<(Uuid, CancelOutcome)>>;

    /// Pauses or resumes a channel name, for every runner of every process
    /// and durably: claims skip the jobs of a paused channel (running ones
    /// run on). Pausing a name no job has yet is allowed, so that a
    /// channel can be paused before its work arrives. Resuming wakes up
    /// listening runners. Returns whether anything changed: `false` when
    /// the channel was already paused, or was not paused, as asked.
    async fn channel_pause(&self, params: ChannelPauseParams<'_>) -> Result<bool>;

    /// Makes the failed jobs among those that pass the filter ready again
    /// (at the filter's `now`), counting attempts from zero. Their error
    /// history and their lease token are kept (so a runner still holding
    /// an old lease stays fenced). Wakes up listening runners. Returns the
    /// ids retried, in spawn order.
    async fn job_retry(&self, params: JobRetryParams<'_>) -> Result<Vec<Uuid>>;

    /// Deletes the jobs that pass the filter, in any state. A runner running
    /// one of them can no longer complete it; an ordered job deleted while
    /// it held its channel unblocks the next. Returns the ids deleted.
    async fn job_delete(&self, params: JobDeleteParams<'_>) -> Result<Vec<Uuid>>;

    /// Sets or removes a channel name's limit (see
    /// [`limits`](crate::limits)). Setting one makes the ordinary claims
    /// ([`job_claim`](Self::job_claim)) pass the channel over, so that its
    /// jobs are claimed only by [`job_claim_limited`](Self::job_claim_limited);
    /// removing it wakes up listening runners. Returns whether anything
    /// changed (removing a limit that is not set changes nothing).
    async fn channel_limit(&self, params: ChannelLimitParams<'_>) -> Result<bool>;

    /// Every channel limit, by channel name, with its current use.
    async fn channel_limits(&self, params: ChannelLimitsParams) -> Result<Vec<LimitInfo>>;

    /// Claims up to `limit` ready jobs of a limited channel, as many as its
    /// limit leaves room for, and holds them for `lease`: no more than the
    /// concurrency run at once under claims (a job whose lease expired
    /// counts until [`job_schedule`](Self::job_schedule) makes it ready
    /// again), and no more than the rate's count start in any
    /// window of its period; over the channel, or over each of its
    /// arguments apart. Claims of one channel see each other: concurrent
    /// ones never claim more than the limit together. Jobs come in the
    /// order `job_claim` gives them within a channel, its arguments served
    /// in turn. A channel without a limit gives nothing.
    async fn job_claim_limited(&self, params: JobClaimLimitedParams<'_>)
    -> Result<Vec<ClaimedJob>>;

    /// Declares `runner`'s schedules: stores new ones, due at their
    /// `first_due`; updates changed ones (one whose cadence changed is due
    /// at its new `first_due`); and marks each as declared now. Takes, for
    /// `lease`, the lease of each declared schedule that no runner holds or
    /// whose lease ended, and renews those `runner` holds. Deletes the
    /// schedules no runner declared for `prune_after` (with no schedules
    /// given, that is all it does). Returns each declared schedule as the
    /// declaration left it, and the time it was made at.
    ///
    /// The newest definition wins, so that two versions of an application
    /// running side by side during a deploy do not change a schedule back
    /// and forth: a definition different from the stored one whose
    /// [`defined_at`](crate::backend::DeclaredSchedule::defined_at) is
    /// older than the stored one's is *outdated* while the stored one was
    /// declared within `lease`. An outdated declaration changes nothing but
    /// the time the schedule was last declared, and its runner does not
    /// lead. A declaration that changes the definition takes the lease,
    /// whoever held it, so the leader always declares the definition in
    /// force.
    async fn schedule_declare(&self, params: ScheduleDeclareParams<'_>)
    -> Result<ScheduleDeclared>;

    /// Fires a schedule, all or nothing: if `runner` holds its lease and
    /// it is still due at `due`, inserts `jobs` (as
    /// [`job_insert`](Self::job_insert) does, unique keys included), moves
    /// its due time to `next_run_at` and records `last_tick` with the last
    /// job. Returns what became of each job, or `None` (and changes
    /// nothing) when the runner does not lead the schedule or another
    /// firing moved its due time first: this check is what makes each tick
    /// spawn once across processes.
    async fn schedule_fire(&self, params: ScheduleFireParams<'_>) -> Result<Option<Vec<Spawned>>>;

    /// Ends `runner`'s leases (of the named schedules, or all), so that
    /// another runner declaring them takes them over at once.
    async fn schedule_release(&self, params: ScheduleReleaseParams<'_>) -> Result<()>;

    /// Every stored schedule, by name. A leader whose lease ended is shown
    /// as none.
    async fn schedule_list(&self, params: ScheduleListParams) -> Result<Vec<ScheduleInfo>>;

    /// Records a runner's report (see [`activity`](crate::activity)): adds
    /// its counts to those of their minute and channel name, and stores
    /// the runner as seen at `now` with what it runs, or, when it is
    /// stopping, forgets it. Prunes minutes older than the retention and
    /// runners not seen for [`RUNNER_PRUNE_AFTER`](crate::activity::RUNNER_PRUNE_AFTER).
    async fn activity_record(&self, params: ActivityRecordParams<'_>) -> Result<()>;

    /// The counts of the minutes that end after `now - since`, by minute
    /// then channel name.
    async fn throughput_list(&self, params: ThroughputListParams) -> Result<Vec<MinuteCount>>;

    /// Every runner listed (see [`activity_record`](Self::activity_record)),
    /// by name then id.
    async fn runner_list(&self, params: RunnerListParams) -> Result<Vec<RunnerInfo>>;

    /// Creates or upgrades the backend's storage. Safe to call from many
    /// processes at once. Storage that needs nothing created keeps the
    /// default, which does nothing.
    async fn migrate(&self, params: MigrateParams) -> Result<()> {
        let _ = params;
        Ok(())
    }

    /// Reclaims the storage of finished jobs now, unless another process is
    /// already doing it or nothing could be reclaimed (then returns `false`
    /// at once: PostgreSQL skips it while the xmin horizon is held back,
    /// but for one vacuum a minute), and gives back the index space a held
    /// horizon left behind once it moves again. Runners call this
    /// every so many claimed jobs, because until dead rows are reclaimed
    /// every claim walks past them. The default, for storage with nothing
    /// to reclaim, returns `false`.
    async fn job_vacuum(&self, params: JobVacuumParams) -> Result<bool> {
        let _ = params;
        Ok(false)
    }

    /// A stream of wake-ups for runners. The stream may end or go quiet;
    /// runners always keep polling on a timer as well. The default never
    /// wakes anyone: runners poll.
    async fn listen(&self, params: ListenParams<'_>) -> Result<BoxStream<'static, Wakeup>> {
        let _ = params;
        Ok(futures::stream::pending().boxed())
    }
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
    fn error_texts_are_bounded_and_storable() {
        let max = crate::registry::MAX_ERROR_TEXT;
        assert_eq!(bound_error_text("short"), "short");
        let long = "é".repeat(max);
        let cut = bound_error_text(&long);
        assert!(cut.len() <= max && cut.len() > max - 2);
        assert!(long.starts_with(cut.as_ref()));
        assert_eq!(bound_error_text("a\0b"), "a\u{fffd}b");
        let nuls = "\0".repeat(max);
        assert!(bound_error_text(&nuls).len() <= max);
    }

    #[test]
    fn states_round_trip_by_name() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
            assert_eq!(state.to_string().parse::<JobState>().unwrap(), state);
        }
        assert!("lost".parse::<JobState>().is_err());
    }

    #[test]
    fn no_jobs_keep_the_cursor() {
        assert_eq!(claim_cursor(Some(&key("c", "")), &[]), None);
    }
}
