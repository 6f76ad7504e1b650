//! The job a runner hands to user code, and checkpoints.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::oneshot;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::backend::{
    JobCheckpointParams, JobCompleteParams, JobKeepAliveParams, JobLease, JobReleaseParams,
    LeaseOutcome,
};
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::runner::attempt::{Attempt, Ending};
use crate::runner::shared::Outcome;

/// New state for a running job, saved for its next attempts.
///
/// A long job checkpoints its progress so that, if this attempt fails, the
/// next one starts from the checkpoint's payload instead of the original.
///
/// ```
/// # use mq_core::Checkpoint;
/// use std::time::Duration;
///
/// let mut checkpoint = Checkpoint::new_keep_alive(Duration::from_secs(60));
/// checkpoint.set_json(&serde_json::json!({"done": 500}))?.set_extra_retries(1);
/// # Ok::<(), mq_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Checkpoint {
    payload_json: Option<String>,
    /// Whether `payload_json` is known to be JSON (see
    /// [`set_raw_json`](Self::set_raw_json)).
    json_checked: bool,
    payload_bytes: Option<Vec<u8>>,
    extra_retries: u32,
    keep_alive: Option<Duration>,
}

impl Checkpoint {
    /// An empty checkpoint: it changes nothing until something is set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A checkpoint that also holds the job for at least `duration` from
    /// when it is saved (see [`CurrentJob::keep_alive`]).
    pub fn new_keep_alive(duration: Duration) -> Self {
        Self {
            keep_alive: Some(duration),
            ..Self::default()
        }
    }

    /// Replaces the JSON payload with `value`.
    pub fn set_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<&mut Self> {
        self.payload_json = Some(serde_json::to_string(value).map_err(Error::PayloadEncode)?);
        self.json_checked = true;
        Ok(self)
    }

    /// Replaces the JSON payload with JSON text. Text that is not valid
    /// JSON is refused when the checkpoint is saved, with
    /// [`Error::InvalidInput`] (and nothing is saved).
    pub fn set_raw_json(&mut self, json: impl Into<String>) -> &mut Self {
        self.payload_json = Some(json.into());
        self.json_checked = false;
        self
    }

    /// Replaces the binary payload.
    pub fn set_raw_bytes(&mut self, bytes: impl AsRef<[u8]>) -> &mut Self {
        self.payload_bytes = Some(bytes.as_ref().to_vec());
        self
    }

    /// Adds `extra_retries` attempts to the job's allowance (at most
    /// `i32::MAX` in all).
    pub fn set_extra_retries(&mut self, extra_retries: usize) -> &mut Self {
        self.extra_retries = u32::try_from(extra_retries).unwrap_or(u32::MAX);
        self
    }

    fn params(&self, attempt: &Attempt) -> Result<JobCheckpointParams<'_>> {
        crate::payload::check(
            self.payload_json.as_deref(),
            self.json_checked,
            self.payload_bytes.as_deref(),
        )?;
        if let Some(duration) = self.keep_alive
            && duration > crate::builder::MAX_DURATION
        {
            return Err(Error::invalid(
                "keep_alive",
                format!("{duration:?} is longer than the maximum of 1000 years"),
            ));
        }
        Ok(JobCheckpointParams {
            lease: attempt.lease,
            payload_json: self.payload_json.as_deref(),
            payload_bytes: self.payload_bytes.as_deref(),
            extra_retries: self.extra_retries,
            keep_alive: self.keep_alive,
            now: None,
        })
    }
}

/// A job being run: its payload, and the calls that record its progress.
///
/// Complete the job with [`complete`](Self::complete) (or
/// [`complete_with_transaction`](Self::complete_with_transaction)) when it
/// is done. A job that returns an error, panics, or is dropped without
/// completing counts as a failed attempt and is retried while it has
/// retries left.
pub struct CurrentJob {
    attempt: Arc<Attempt>,
    payload_json: Option<String>,
    payload_bytes: Option<Vec<u8>>,
    trace_context: Option<String>,
    tick: Option<time::OffsetDateTime>,
    /// A supervisor (the registry's task) ends the attempt with the job's
    /// result; otherwise dropping this ends it.
    supervised: bool,
}

impl fmt::Debug for CurrentJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentJob")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("attempt", &self.attempt())
            .finish_non_exhaustive()
    }
}

impl CurrentJob {
    pub(crate) fn new(
        attempt: Arc<Attempt>,
        payload_json: Option<String>,
        payload_bytes: Option<Vec<u8>>,
    ) -> Self {
        attempt.start();
        Self {
            attempt,
            payload_json,
            payload_bytes,
            trace_context: None,
            tick: None,
            supervised: false,
        }
    }

    pub(crate) fn with_trace_context(mut self, trace_context: Option<String>) -> Self {
        self.trace_context = trace_context;
        self
    }

    pub(crate) fn with_tick(mut self, tick: Option<time::OffsetDateTime>) -> Self {
        self.tick = tick;
        self
    }

    /// Hands the ending of the attempt to a supervisor, which calls
    /// [`Attempt::end`] with the job's result; returns the attempt.
    pub(crate) fn supervise(&mut self) -> Arc<Attempt> {
        self.supervised = true;
        self.attempt.clone()
    }

    /// The job's id.
    pub fn id(&self) -> Uuid {
        self.attempt.lease.id
    }

    /// The job's name.
    pub fn name(&self) -> &str {
        &self.attempt.name
    }

    /// Completes when the job should stop: it was cancelled
    /// ([`cancel`](crate::cancel), from any process), or this runner no
    /// longer holds it (its lease lapsed, or it was deleted). Whatever the
    /// attempt records afterwards changes nothing (a completion gives
    /// [`Error::LeaseLost`]), so a job may simply return. mq does not drop
    /// the job's future for it: race this against the work, for example
    /// with `tokio::select!`, at points where stopping is safe.
    ///
    /// The runner hears of a cancel through its notifications as the
    /// cancel commits (within milliseconds), and at the latest at its next
    /// keep-alive (a third of the lease) when it has none to listen to.
    pub fn cancelled(&self) -> impl Future<Output = ()> + Send + 'static {
        self.attempt.cancel.fired()
    }

    /// Whether [`cancelled`](Self::cancelled) has completed.
    pub fn is_cancelled(&self) -> bool {
        self.attempt.cancel.is_fired()
    }

    /// The job's channel name.
    pub fn channel_name(&self) -> &str {
        &self.attempt.channel_name
    }

    /// The job's channel arguments.
    pub fn channel_args(&self) -> &str {
        &self.attempt.channel_args
    }

    /// Which attempt this is: 1 for the first run, 2 for the first retry...
    pub fn attempt(&self) -> i32 {
        self.attempt.number
    }

    /// The `mq.job` span of this attempt (fields `job.id`, `job.name`,
    /// `job.channel`, `job.attempt`). Registry jobs run inside it; a
    /// callback runner's tasks can enter it with
    /// `tracing::Instrument::instrument(future, job.span().clone())`. With
    /// the feature `otel`, its OpenTelemetry parent is the span the job was
    /// spawned in, if it was spawned inside a trace.
    pub fn span(&self) -> &tracing::Span {
        &self.attempt.span
    }

    /// The trace the job was spawned in, as W3C Trace Context text
    /// ([`JobBuilder::set_trace_context`](crate::JobBuilder::set_trace_context));
    /// `None` if it was spawned outside a trace. With the feature `otel`,
    /// [`span`](Self::span) already continues that trace.
    pub fn trace_context(&self) -> Option<&str> {
        self.trace_context.as_deref()
    }

    /// For a job a periodic schedule spawned, the tick it was spawned for:
    /// the time the schedule's cadence named, not the time the job was
    /// spawned or started. Jobs of missed ticks that the schedule runs
    /// late ([`MissedTicks`](crate::MissedTicks)) each get their own tick,
    /// so that a job can tell which period it covers. The same for every
    /// attempt; `None` for jobs spawned otherwise.
    pub fn tick(&self) -> Option<time::OffsetDateTime> {
        self.tick
    }

    /// Decodes the JSON payload; `None` if the job has none.
    pub fn json<'a, T: Deserialize<'a>>(&'a self) -> Result<Option<T>> {
        let Some(json) = self.payload_json.as_deref() else {
            return Ok(None);
        };
        serde_json::from_str(json)
            .map(Some)
            .map_err(|source| Error::PayloadDecode {
                id: self.id(),
                name: self.name().to_owned(),
                type_name: std::any::type_name::<T>(),
                source,
            })
    }

    /// The JSON payload as text.
    pub fn raw_json(&self) -> Option<&str> {
        self.payload_json.as_deref()
    }

    /// The binary payload.
    pub fn raw_bytes(&self) -> Option<&[u8]> {
        self.payload_bytes.as_deref()
    }

    /// Whether the job has been completed (with
    /// [`complete`](Self::complete), or in a transaction with
    /// [`complete_with_transaction`](Self::complete_with_transaction)).
    pub fn is_completed(&self) -> bool {
        self.attempt.is_completed()
    }

    /// Marks the job as completed: it is deleted (or kept in state
    /// completed, if the runner keeps completed jobs) and never runs again.
    ///
    /// Completions from many jobs are written together in one statement;
    /// this returns once this job's completion is durable. Completing twice
    /// is a no-op. Fails with [`Error::LeaseLost`] if another runner took
    /// the job over.
    pub async fn complete(&mut self) -> Result<()> {
        if !self.attempt.begin_completing()? {
            return Ok(());
        }
        let (ack, done) = oneshot::channel();
        self.attempt.shared.send(Outcome::Complete {
            attempt: self.attempt.clone(),
            ack,
        });
        match done.await {
            Ok(result) => result,
            Err(oneshot::Canceled) => {
                self.attempt.completion_failed();
                Err(Error::RunnerStopped)
            }
        }
    }

    /// Completes the job inside the caller's transaction, so that the
    /// completion commits (or rolls back) with the job's other writes:
    /// exactly-once effects for work that lives in the same database.
    ///
    /// Pass an owned transaction to have it committed here, or a borrowed
    /// one (`&mut *tx`) to commit it yourself. Fails with
    /// [`Error::LeaseLost`] if another runner took the job over; roll the
    /// transaction back then.
    ///
    /// If the transaction rolls back instead, the runner finds out once the
    /// job's code returns and records the attempt as failed (it is retried
    /// while attempts remain) rather than waiting for the lease to lapse.
    pub async fn complete_with_transaction<D, E: Executor<D>>(
        &mut self,
        executor: E,
    ) -> Result<()> {
        if self.is_completed() {
            return Ok(());
        }
        self.attempt.check_held()?;
        let lease = self.attempt.lease;
        self.attempt.transaction_write_started();
        let outcomes = executor
            .job_complete(JobCompleteParams {
                leases: &[lease],
                keep_completed: self.attempt.shared.config.keep_completed,
                skip_busy: false,
                now: None,
            })
            .await;
        self.transaction_written(outcomes, Attempt::completed_in_transaction)
    }

    /// Runs the job again after `delay`, without counting this attempt:
    /// for a job that cannot go on yet (a rate limit hit, a resource not
    /// ready). Its retries are untouched. This attempt ends here; any later
    /// call that records something for it fails with
    /// [`Error::AttemptEnded`]. To hand state to the next attempt, save a
    /// [`checkpoint`](Self::checkpoint) first: its payload is what the next
    /// attempt gets. Returns once the snooze is recorded.
    ///
    /// A delay longer than 1000 years is an [`Error::InvalidInput`], and
    /// changes nothing.
    pub async fn snooze(&mut self, delay: Duration) -> Result<()> {
        crate::builder::bounded("delay", delay)?;
        let recorded = self.attempt.snooze(delay)?;
        match recorded.await {
            Ok(result) => result,
            Err(oneshot::Canceled) => Err(Error::RunnerStopped),
        }
    }

    /// Snoozes the job (see [`snooze`](Self::snooze)) inside the caller's
    /// transaction, so that it happens only if the transaction commits:
    /// pass an owned transaction to have it committed here, or a borrowed
    /// one to commit it yourself. If the transaction rolls back instead,
    /// the attempt is recorded as failed once the job's code returns, as
    /// for [`complete_with_transaction`](Self::complete_with_transaction).
    pub async fn snooze_with_transaction<D, E: Executor<D>>(
        &mut self,
        executor: E,
        delay: Duration,
    ) -> Result<()> {
        crate::builder::bounded("delay", delay)?;
        self.attempt.check_held()?;
        if self.is_completed() {
            return Err(Error::AttemptEnded {
                id: self.id(),
                how: "was completed",
            });
        }
        let lease = self.attempt.lease;
        self.attempt.transaction_write_started();
        let outcomes = executor
            .job_release(JobReleaseParams {
                leases: &[lease],
                delay,
                skip_busy: false,
                now: None,
            })
            .await;
        self.transaction_written(outcomes, Attempt::snoozed_in_transaction)
    }

    /// Ends a write made in the caller's transaction for this attempt
    /// (after [`Attempt::transaction_write_started`]): `written` moves the
    /// attempt on if the lease took it; otherwise the attempt is as before,
    /// and the lease is lost or the error is the caller's.
    fn transaction_written(
        &self,
        outcomes: Result<Vec<(JobLease, LeaseOutcome)>>,
        written: fn(&Attempt),
    ) -> Result<()> {
        match outcomes {
            Ok(outcomes) if outcomes.contains(&(self.attempt.lease, LeaseOutcome::Done)) => {
                written(&self.attempt);
                Ok(())
            }
            Ok(_) => {
                self.attempt.transaction_write_failed();
                Err(self.attempt.lose_lease())
            }
            Err(error) => {
                self.attempt.transaction_write_failed();
                Err(error)
            }
        }
    }

    /// Saves a checkpoint: its payload replaces the job's for the next
    /// attempts, and its extra retries are added.
    pub async fn checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        self.attempt.check_held()?;
        let held = self
            .attempt
            .shared
            .backend
            .job_checkpoint(checkpoint.params(&self.attempt)?)
            .await?;
        if held {
            Ok(())
        } else {
            Err(self.attempt.lose_lease())
        }
    }

    /// Saves a checkpoint inside the caller's transaction.
    pub async fn checkpoint_with_transaction<D, E: Executor<D>>(
        &mut self,
        executor: E,
        checkpoint: &Checkpoint,
    ) -> Result<()> {
        self.attempt.check_held()?;
        let held = executor
            .job_checkpoint(checkpoint.params(&self.attempt)?)
            .await?;
        if held {
            Ok(())
        } else {
            Err(self.attempt.lose_lease())
        }
    }

    /// Holds the job for at least `duration` from now. The runner does this
    /// on its own while keep-alive is on; call it for longer pauses, or
    /// when keep-alive is off.
    pub async fn keep_alive(&mut self, duration: Duration) -> Result<()> {
        self.attempt.check_held()?;
        let lease = self.attempt.lease;
        let shared = &self.attempt.shared;
        // The runner's own keep-alive may hold the row for a moment.
        for _ in 0..KEEP_ALIVE_TRIES {
            let outcomes = shared
                .backend
                .job_keep_alive(JobKeepAliveParams {
                    leases: &[lease],
                    lease: duration,
                    now: None,
                })
                .await?;
            match outcomes.first() {
                Some((_, LeaseOutcome::Done)) => return Ok(()),
                Some((_, LeaseOutcome::Busy)) => {
                    shared.spawner.sleep(Duration::from_millis(10)).await;
                }
                Some((_, LeaseOutcome::Lost)) | None => return Err(self.attempt.lose_lease()),
            }
        }
        Err(Error::Busy {
            id: lease.id,
            reason: "another transaction holds its row",
        })
    }
}

/// How many times [`CurrentJob::keep_alive`] tries a job whose row is busy.
const KEEP_ALIVE_TRIES: usize = 50;

impl Drop for CurrentJob {
    fn drop(&mut self) {
        if !self.supervised {
            self.attempt
                .end(|| Ending::Failed("the job was dropped without completing".to_owned()));
        }
    }
}
