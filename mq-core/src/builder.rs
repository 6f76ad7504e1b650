//! Describing a job before it is spawned.

use std::borrow::Cow;
use std::time::Duration;

use serde::Serialize;
use uuid::Uuid;

use crate::backend::{JobInsertParams, Spawned};
use crate::error::{Error, Result};
use crate::executor::Executor;

/// The longest delay, retry backoff or commit interval mq accepts: 1,000
/// years. Longer durations overflow PostgreSQL's `interval` arithmetic once
/// backoff doubling is applied, so they are refused up front with
/// [`Error::InvalidInput`] instead of failing inside the database.
pub const MAX_DURATION: Duration = Duration::from_secs(1000 * 366 * 24 * 3600);

/// The longest unique key mq accepts, in bytes: keys live in a B-tree
/// index with the job's name, whose entries must fit a third of a page.
pub const MAX_UNIQUE_KEY: usize = 512;

/// The longest trace context mq accepts, in bytes. A W3C `traceparent` is
/// 55 bytes; the rest is room for a `tracestate`, which W3C asks systems to
/// carry up to 512 bytes of.
pub const MAX_TRACE_CONTEXT: usize = 1024;

/// A job as it will be inserted: the plain data a [`JobBuilder`] collects.
///
/// Backends read this; users build it through [`JobBuilder`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewJob {
    /// The job's id (a UUIDv7 unless chosen with [`JobBuilder::new_with_id`]).
    pub id: Uuid,
    /// The job's name: which function of the registry runs it.
    pub name: String,
    /// The channel name; runners can subscribe to channel names.
    pub channel_name: String,
    /// The channel arguments; with the name they identify the channel.
    pub channel_args: String,
    /// The JSON payload, as JSON text.
    pub payload_json: Option<String>,
    /// The binary payload.
    pub payload_bytes: Option<Vec<u8>>,
    /// How long after spawning the job becomes ready.
    pub delay: Duration,
    /// How many attempts are allowed after the first.
    pub retries: u32,
    /// The wait before the first retry; it doubles for every further one.
    pub retry_backoff: Duration,
    /// The longest wait between attempts, however many failed.
    pub retry_backoff_max: Option<Duration>,
    /// Whether each wait is drawn between half of it and all of it
    /// (see [`RetryPolicy`](crate::retry::RetryPolicy)).
    pub retry_jitter: bool,
    /// How long one attempt may run before it is stopped and counted as
    /// failed; `None` for no limit.
    pub timeout: Option<Duration>,
    /// Within its channel, jobs of higher priority run before jobs of
    /// lower priority that became ready earlier; 0 by default.
    pub priority: i16,
    /// While a job of the same name with this key is not finished, spawning
    /// this one inserts nothing ([`JobBuilder::set_unique_key`]).
    pub unique_key: Option<String>,
    /// How long after completing the job still holds its unique key.
    pub unique_for: Option<Duration>,
    /// Whether the job runs strictly after the ordered jobs spawned before
    /// it on the same channel.
    pub ordered: bool,
    /// With two-phase commit: how long the job waits for
    /// [`commit`](crate::commit) before it is discarded.
    pub commit_interval: Option<Duration>,
    /// The trace the job was spawned in, as W3C Trace Context text
    /// ([`JobBuilder::set_trace_context`]); `None` outside a trace.
    pub trace_context: Option<String>,
    /// The tick of the periodic schedule this job is spawned for
    /// ([`CurrentJob::tick`](crate::CurrentJob::tick)): set by the runner
    /// that fires the schedule, `None` for every other job.
    pub tick: Option<time::OffsetDateTime>,
    /// Whether `payload_json` is known to be JSON (serialized by mq), or
    /// is the caller's text, to be checked before it is stored.
    pub(crate) json_checked: bool,
}

impl NewJob {
    /// Checks that every field can be stored, so that a bad value fails
    /// with a typed error before anything reaches the backend.
    pub fn validate(&self) -> Result<()> {
        no_nul("name", &self.name)?;
        no_nul("channel_name", &self.channel_name)?;
        no_nul("channel_args", &self.channel_args)?;
        crate::payload::check(
            self.payload_json.as_deref(),
            self.json_checked,
            self.payload_bytes.as_deref(),
        )?;
        bounded("delay", self.delay)?;
        bounded("retry_backoff", self.retry_backoff)?;
        if let Some(max) = self.retry_backoff_max {
            bounded("retry_backoff_max", max)?;
        }
        if let Some(timeout) = self.timeout {
            bounded("timeout", timeout)?;
            if timeout.is_zero() {
                return Err(Error::invalid("timeout", "must be longer than zero"));
            }
        }
        if let Some(key) = &self.unique_key {
            no_nul("unique_key", key)?;
            if key.is_empty() {
                return Err(Error::invalid("unique_key", "is empty"));
            }
            if key.len() > MAX_UNIQUE_KEY {
                return Err(Error::invalid(
                    "unique_key",
                    format!(
                        "is {} bytes, more than the maximum of {MAX_UNIQUE_KEY}",
                        key.len()
                    ),
                ));
            }
        }
        if let Some(period) = self.unique_for {
            bounded("unique_for", period)?;
            if self.unique_key.is_none() {
                return Err(Error::invalid(
                    "unique_for",
                    "is set without a unique key to hold",
                ));
            }
        }
        if let Some(interval) = self.commit_interval {
            bounded("commit_interval", interval)?;
        }
        if let Some(context) = &self.trace_context {
            no_nul("trace_context", context)?;
            if context.is_empty() {
                return Err(Error::invalid("trace_context", "is empty"));
            }
            if context.len() > MAX_TRACE_CONTEXT {
                return Err(Error::invalid(
                    "trace_context",
                    format!(
                        "is {} bytes, more than the maximum of {MAX_TRACE_CONTEXT}",
                        context.len()
                    ),
                ));
            }
        }
        if i32::try_from(self.retries).is_err() {
            return Err(Error::invalid(
                "retries",
                format!("{} is more than the maximum of {}", self.retries, i32::MAX),
            ));
        }
        Ok(())
    }
}

pub(crate) fn no_nul(field: &'static str, value: &str) -> Result<()> {
    // PostgreSQL text cannot hold NUL; refuse it here rather than let the
    // database fail the whole batch with an encoding error.
    match value.find('\0') {
        Some(at) => Err(Error::invalid(
            field,
            format!("contains a NUL character at byte {at}"),
        )),
        None => Ok(()),
    }
}

pub(crate) fn bounded(field: &'static str, value: Duration) -> Result<()> {
    if value > MAX_DURATION {
        return Err(Error::invalid(
            field,
            format!("{value:?} is longer than the maximum of 1000 years"),
        ));
    }
    Ok(())
}

/// Describes a job and spawns it.
///
/// ```
/// # use mq_core::JobBuilder;
/// # use std::time::Duration;
/// let mut builder = JobBuilder::new("send_email");
/// builder
///     .set_channel_name("emails")
///     .set_channel_args("user-42")
///     .set_json(&serde_json::json!({"to": "a@example.com"}))?
///     .set_delay(Duration::from_secs(10))
///     .set_retries(3);
/// assert_eq!(builder.job().retries, 3);
/// # Ok::<(), mq_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct JobBuilder {
    job: NewJob,
    /// Whether spawning stores the current span's trace context (feature
    /// `otel`): until [`JobBuilder::set_trace_context`] says otherwise.
    capture_trace: bool,
}

impl JobBuilder {
    /// A job named `name`, with a fresh id and the default options: channel
    /// name and arguments empty, no payload, no delay, 4 retries, 1 s initial
    /// backoff, unordered, committed at once.
    pub fn new(name: impl Into<String>) -> Self {
        Self::new_with_id(Uuid::now_v7(), name)
    }

    /// Like [`JobBuilder::new`] with a chosen id.
    pub fn new_with_id(id: Uuid, name: impl Into<String>) -> Self {
        Self {
            job: NewJob {
                id,
                name: name.into(),
                channel_name: String::new(),
                channel_args: String::new(),
                payload_json: None,
                payload_bytes: None,
                delay: Duration::ZERO,
                retries: 4,
                retry_backoff: Duration::from_secs(1),
                retry_backoff_max: None,
                retry_jitter: false,
                timeout: None,
                priority: 0,
                unique_key: None,
                unique_for: None,
                ordered: false,
                commit_interval: None,
                trace_context: None,
                tick: None,
                json_checked: true,
            },
            capture_trace: true,
        }
    }

    /// The job as built so far.
    pub fn job(&self) -> &NewJob {
        &self.job
    }

    /// The id the job will have.
    pub fn id(&self) -> Uuid {
        self.job.id
    }

    /// Applies a prototype: a function that sets several options at once,
    /// shared between jobs.
    pub fn set_proto<'b>(
        &'b mut self,
        proto: impl FnOnce(&'b mut Self) -> &'b mut Self,
    ) -> &'b mut Self {
        proto(self)
    }

    /// Sets the channel name.
    pub fn set_channel_name(&mut self, channel_name: impl Into<String>) -> &mut Self {
        self.job.channel_name = channel_name.into();
        self
    }

    /// Sets the channel arguments.
    pub fn set_channel_args(&mut self, channel_args: impl Into<String>) -> &mut Self {
        self.job.channel_args = channel_args.into();
        self
    }

    /// Sets how many attempts are allowed after the first.
    pub fn set_retries(&mut self, retries: u32) -> &mut Self {
        self.job.retries = retries;
        self
    }

    /// Sets the wait before the first retry; it doubles for each further
    /// retry.
    pub fn set_retry_backoff(&mut self, retry_backoff: Duration) -> &mut Self {
        self.job.retry_backoff = retry_backoff;
        self
    }

    /// Caps the wait between attempts: the doubling backoff stops growing
    /// at `max` (by default it grows without bound).
    pub fn set_retry_backoff_max(&mut self, max: Duration) -> &mut Self {
        self.job.retry_backoff_max = Some(max);
        self
    }

    /// Spreads out the waits between attempts: each is drawn between half
    /// the backoff and all of it, so that jobs that failed together do not
    /// retry together. Off by default.
    pub fn set_retry_jitter(&mut self, jitter: bool) -> &mut Self {
        self.job.retry_jitter = jitter;
        self
    }

    /// Limits how long one attempt may run. An attempt still running at its
    /// timeout is failed at once with a timeout error in the job's error
    /// history, and retried while retries remain. A `#[job]` function's
    /// future is dropped then; a job run by a callback runner is told
    /// through [`CurrentJob::cancelled`](crate::CurrentJob::cancelled), and
    /// whatever it records afterwards changes nothing. No limit by default.
    pub fn set_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.job.timeout = Some(timeout);
        self
    }

    /// Sets the job's priority: within its channel, a claim takes ready
    /// jobs of higher priority before older ones of lower priority (0 by
    /// default; negative values run after the default). Priorities order
    /// jobs within a channel only: runners still serve channels in turn, so
    /// a busy channel of urgent jobs does not starve the others. An ordered
    /// job still waits for the ordered jobs spawned before it on its
    /// channel, whatever their priorities.
    pub fn set_priority(&mut self, priority: i16) -> &mut Self {
        self.job.priority = priority;
        self
    }

    /// Makes the job unique by `key` among the jobs of its name: while a
    /// job of the same name and key is not finished (uncommitted, waiting,
    /// ready or running), spawning this one inserts nothing, and
    /// [`spawn`](Self::spawn) returns the existing job's id
    /// ([`spawn_deduplicated`](Self::spawn_deduplicated) says which
    /// happened). A unique index enforces it, across processes and
    /// transactions: a spawn of a key another transaction has just spawned
    /// waits for that transaction to end. A job that fails for good or is
    /// cancelled gives its key up. At most [`MAX_UNIQUE_KEY`] bytes, not
    /// empty.
    pub fn set_unique_key(&mut self, key: impl Into<String>) -> &mut Self {
        self.job.unique_key = Some(key.into());
        self
    }

    /// Keeps the job's unique key held for `period` after it completes: a
    /// spawn with the same key within that time inserts nothing either.
    /// The completed job stays in the table, in state `completed`, for at
    /// least that long; prune completed jobs
    /// ([`admin::prune`](crate::admin::prune)) to remove it afterwards.
    pub fn set_unique_for(&mut self, period: Duration) -> &mut Self {
        self.job.unique_for = Some(period);
        self
    }

    /// Sets how long after spawning the job becomes ready.
    pub fn set_delay(&mut self, delay: Duration) -> &mut Self {
        self.job.delay = delay;
        self
    }

    /// Makes the job run only after every ordered job spawned before it on
    /// the same channel has completed.
    pub fn set_ordered(&mut self, ordered: bool) -> &mut Self {
        self.job.ordered = ordered;
        self
    }

    /// Enables two-phase commit: the job stays invisible until
    /// [`commit`](crate::commit) is called with its id, and is discarded if
    /// that does not happen within `commit_interval`.
    pub fn set_commit_interval(&mut self, commit_interval: Option<Duration>) -> &mut Self {
        self.job.commit_interval = commit_interval;
        self
    }

    /// Sets the trace the job belongs to, as W3C Trace Context text: a
    /// `traceparent` value, then, if there is a trace state, `;` and the
    /// `tracestate` value (`00-<trace id>-<span id>-<flags>[;<tracestate>]`).
    /// mq stores it with the job and hands it to every attempt
    /// ([`CurrentJob::trace_context`](crate::CurrentJob::trace_context)).
    ///
    /// With the feature `otel`, a job spawned without this call stores the
    /// context of the current `tracing` span, and each attempt's `mq.job`
    /// span continues that trace; calling it, even with `None`, replaces
    /// that capture (`None`: the job starts traces of its own). At most
    /// [`MAX_TRACE_CONTEXT`] bytes, not empty: anything else is refused
    /// when the job is spawned, with [`Error::InvalidInput`].
    pub fn set_trace_context(&mut self, context: Option<String>) -> &mut Self {
        self.job.trace_context = context;
        self.capture_trace = false;
        self
    }

    /// Marks the job as spawned for `tick` of a periodic schedule; only
    /// the runner that fires the schedule does.
    pub(crate) fn set_tick(&mut self, tick: time::OffsetDateTime) -> &mut Self {
        self.job.tick = Some(tick);
        self
    }

    /// Serializes `value` as the JSON payload.
    pub fn set_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<&mut Self> {
        let json = serde_json::to_string(value).map_err(Error::PayloadEncode)?;
        self.job.payload_json = Some(json);
        self.job.json_checked = true;
        Ok(self)
    }

    /// Sets the JSON payload from JSON text. It must be valid JSON: text
    /// that is not is refused when the job is spawned, with
    /// [`Error::InvalidInput`] for the field `payload_json` (and nothing is
    /// spawned). As in sqlxmq, this does not return a `Result`.
    pub fn set_raw_json(&mut self, json: impl Into<String>) -> &mut Self {
        self.job.payload_json = Some(json.into());
        self.job.json_checked = false;
        self
    }

    /// Sets the binary payload.
    pub fn set_raw_bytes(&mut self, bytes: impl AsRef<[u8]>) -> &mut Self {
        self.job.payload_bytes = Some(bytes.as_ref().to_vec());
        self
    }

    /// Spawns the job through `executor`: a pool, a connection or an open
    /// transaction of the driver in use (the job then exists only if that
    /// transaction commits). Returns the job's id; for a job with a
    /// [unique key](Self::set_unique_key) that another job holds, nothing
    /// is inserted and the id is that job's.
    pub async fn spawn<D, E: Executor<D>>(&self, executor: E) -> Result<Uuid> {
        Ok(self.spawn_deduplicated(executor).await?.id())
    }

    /// Like [`spawn`](Self::spawn), saying whether the job was inserted or
    /// another job holds its unique key.
    pub async fn spawn_deduplicated<D, E: Executor<D>>(&self, executor: E) -> Result<Spawned> {
        self.job.validate()?;
        let trace = Trace::capture(std::slice::from_ref(self), || {
            tracing::info_span!(
                "mq.spawn",
                job.id = %self.job.id,
                job.name = %self.job.name,
                job.channel = %self.job.channel_name,
            )
        });
        let job = self.traced(&trace);
        let insert = executor.job_insert(JobInsertParams {
            jobs: vec![&job],
            now: None,
        });
        let spawned = trace.instrument(insert).await?;
        let spawned = match spawned.as_slice() {
            [one] => *one,
            other => {
                return Err(Error::backend(
                    "job_insert",
                    false,
                    format!("{} outcomes for one job", other.len()),
                ));
            }
        };
        tracing::debug!(
            job.id = %spawned.id(),
            job.name = %self.job.name,
            job.channel = %self.job.channel_name,
            delay = ?self.job.delay,
            duplicate = matches!(spawned, Spawned::Duplicate(_)),
            "spawned job"
        );
        Ok(spawned)
    }
}

/// Spawns many jobs in one round trip. Returns their ids in the same order:
/// for a job with a [unique key](JobBuilder::set_unique_key) that is held,
/// the holder's, which may be an earlier job of the same batch.
pub async fn spawn_many<D, E: Executor<D>>(
    executor: E,
    builders: &[JobBuilder],
) -> Result<Vec<Uuid>> {
    let spawned = spawn_many_deduplicated(executor, builders).await?;
    Ok(spawned.iter().map(Spawned::id).collect())
}

/// Like [`spawn_many`], saying for each job whether it was inserted or
/// another job holds its unique key.
pub async fn spawn_many_deduplicated<D, E: Executor<D>>(
    executor: E,
    builders: &[JobBuilder],
) -> Result<Vec<Spawned>> {
    if builders.is_empty() {
        return Ok(Vec::new());
    }
    for builder in builders {
        builder.job.validate()?;
    }
    let count = builders.len();
    let trace = Trace::capture(builders, || {
        // As i64: OpenTelemetry attributes have no unsigned integers.
        let jobs = i64::try_from(count).unwrap_or(i64::MAX);
        tracing::info_span!("mq.spawn", jobs)
    });
    let traced: Vec<Cow<'_, NewJob>> = builders.iter().map(|b| b.traced(&trace)).collect();
    let jobs: Vec<&NewJob> = traced.iter().map(|job| &**job).collect();
    let insert = executor.job_insert(JobInsertParams { jobs, now: None });
    let spawned = trace.instrument(insert).await?;
    if spawned.len() != count {
        return Err(Error::backend(
            "job_insert",
            false,
            format!("{} outcomes for {count} jobs", spawned.len()),
        ));
    }
    tracing::debug!(
        jobs = count,
        duplicates = spawned
            .iter()
            .filter(|s| matches!(s, Spawned::Duplicate(_)))
            .count(),
        "spawned jobs"
    );
    Ok(spawned)
}

impl JobBuilder {
    /// The job to insert: with the trace of its spawn, unless the builder
    /// set a trace context of its own.
    fn traced(&self, trace: &Trace) -> Cow<'_, NewJob> {
        match trace.context() {
            Some(context) if self.capture_trace => {
                let mut job = self.job.clone();
                job.trace_context = Some(context.to_owned());
                Cow::Owned(job)
            }
            _ => Cow::Borrowed(&self.job),
        }
    }
}

/// The trace a spawn happens in (feature `otel`): the `mq.spawn` span and
/// its context, which the jobs store. Without the feature, nothing.
struct Trace {
    #[cfg(feature = "otel")]
    spawn: Option<crate::otel::Spawn>,
}

impl Trace {
    /// Inside a traced span, and when some of `builders` take the current
    /// trace: a `mq.spawn` span (made by `span`) under the current one.
    #[cfg_attr(not(feature = "otel"), allow(unused_variables))]
    fn capture(builders: &[JobBuilder], span: impl FnOnce() -> tracing::Span) -> Self {
        Self {
            #[cfg(feature = "otel")]
            spawn: if builders.iter().any(|b| b.capture_trace) {
                crate::otel::Spawn::capture(span)
            } else {
                None
            },
        }
    }

    /// The context the jobs store.
    fn context(&self) -> Option<&str> {
        #[cfg(feature = "otel")]
        if let Some(spawn) = &self.spawn {
            return Some(&spawn.context);
        }
        None
    }

    /// Runs `future` inside the `mq.spawn` span, if there is one.
    async fn instrument<F: std::future::Future>(self, future: F) -> F::Output {
        #[cfg(feature = "otel")]
        if let Some(spawn) = self.spawn {
            return tracing::Instrument::instrument(future, spawn.span).await;
        }
        future.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused_field(builder: &JobBuilder) -> &'static str {
        match builder.job().validate() {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn a_trace_context_must_be_storable() {
        let mut builder = JobBuilder::new("j");
        let longest = format!("00-{}", "a".repeat(MAX_TRACE_CONTEXT - 3));
        builder.set_trace_context(Some(longest));
        assert!(builder.job().validate().is_ok());
        for bad in [
            String::new(),
            "a\0b".to_owned(),
            format!("00-{}", "a".repeat(MAX_TRACE_CONTEXT - 2)),
        ] {
            builder.set_trace_context(Some(bad.clone()));
            assert_eq!(refused_field(&builder), "trace_context", "{bad:?}");
        }
        builder.set_trace_context(None);
        assert!(builder.job().validate().is_ok());
    }

    #[test]
    fn an_explicit_trace_context_replaces_the_capture() {
        let mut builder = JobBuilder::new("j");
        assert!(builder.capture_trace);
        builder.set_trace_context(None);
        assert!(!builder.capture_trace);
        assert_eq!(builder.job().trace_context, None);
    }
}
