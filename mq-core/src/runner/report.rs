//! What a runner tells the world as it works: `tracing` events and spans,
//! and a [`RunnerMetrics`] hook for exporting metrics.
//!
//! Every job attempt runs inside a span named `mq.job` with the job's id,
//! name, channel and attempt (registry jobs are instrumented with it; other
//! runners can use [`CurrentJob::span`](crate::CurrentJob::span)). Claims,
//! completions, retries, failures and releases are events with the same
//! fields: debug level for the routine ones, warn for failures.
//!
//! With the feature `otel`, a job spawned inside a span of an OpenTelemetry
//! trace (through `tracing-opentelemetry`) is spawned in a `mq.spawn` span
//! under it (fields `job.id`, `job.name`, `job.channel`, or `jobs` for a
//! batch), whose context is stored with the job; every `mq.job` span of
//! that job has it as its parent, so the attempts join the spawner's trace.

use std::fmt;
use std::time::Duration;

use uuid::Uuid;

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobOutcome {
    /// The job completed.
    Completed,
    /// The attempt failed and the job will be retried.
    Retrying,
    /// The attempt failed and the job is out of attempts.
    Failed,
    /// The job was given back without counting the attempt (no function
    /// for its name in the registry, or claimed as the runner stopped).
    Released,
    /// Another runner took the job over before this attempt was recorded.
    LeaseLost,
    /// The outcome could not be written (the database failed, or another
    /// transaction held the job's row for a whole lease): the job runs
    /// again once its lease lapses.
    Unrecorded,
}

impl JobOutcome {
    /// A short lowercase name, for labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Released => "released",
            Self::LeaseLost => "lease_lost",
            Self::Unrecorded => "unrecorded",
        }
    }
}

impl fmt::Display for JobOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finished attempt, as reported to [`RunnerMetrics::job_finished`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct JobReport<'a> {
    /// The job.
    pub id: Uuid,
    /// The job's name.
    pub name: &'a str,
    /// The job's channel name.
    pub channel_name: &'a str,
    /// The attempt's number.
    pub attempt: i32,
    /// How it ended.
    pub outcome: JobOutcome,
    /// From the claim to the outcome being recorded.
    pub run_time: Duration,
}

/// Receives a runner's measurements; implement it to export metrics (the
/// `mq` crate's `metrics` feature has one for the `metrics` crate). Every
/// method has a default that ignores the measurement. Called on the
/// runner's tasks: keep the work short.
pub trait RunnerMetrics: Send + Sync + 'static {
    /// A claim returned `jobs` jobs and took `latency`.
    fn jobs_claimed(&self, jobs: usize, latency: Duration) {
        let _ = (jobs, latency);
    }

    /// An attempt ended.
    fn job_finished(&self, report: &JobReport<'_>) {
        let _ = report;
    }

    /// How many jobs the runner is running, after each change.
    fn jobs_running(&self, running: usize) {
        let _ = running;
    }
}
