//! Running one job to its outcome: [`run_job`] and [`JobTester`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc;
use mq_core::backend::JobGetParams;
use mq_core::memory::MemoryBackend;
use mq_core::runner::report::{JobOutcome, JobReport, RunnerMetrics};
use mq_core::spawner::timeout;
use mq_core::{Backend, Error, JobBuilder, JobRegistry, JobState, Result, Spawner, Uuid};

/// Runs `job` with `registry`'s function for it, on a fresh
/// [`MemoryBackend`], until it completes or runs out of attempts, and
/// returns how it ended. See [`JobTester`] for the details and the
/// settings (a time limit, fewer attempts, another runtime).
///
/// ```
/// # #[cfg(all(feature = "runtime-tokio", feature = "macros"))]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mq::BoxError> {
/// use mq::testing::{RunOutcome, run_job};
/// use mq::{BoxError, CurrentJob, JobRegistry, job};
///
/// #[job(retries = 2)]
/// async fn greet(mut job: CurrentJob) -> Result<(), BoxError> {
///     let Some(name) = job.json::<String>()? else {
///         return Err("no name given".into());
///     };
///     println!("hello, {name}");
///     job.complete().await?;
///     Ok(())
/// }
///
/// let registry = JobRegistry::new(&[greet]);
///
/// let outcome = run_job(&registry, greet.builder().set_json("Ada")?).await?;
/// assert_eq!(outcome, RunOutcome::Completed { attempts: 1 });
///
/// // Every attempt (the first and 2 retries) fails the same way.
/// let outcome = run_job(&registry, &greet.builder()).await?;
/// assert_eq!(outcome.attempts(), 3);
/// assert_eq!(outcome.error(), Some("no name given"));
/// # Ok(())
/// # }
/// # #[cfg(not(all(feature = "runtime-tokio", feature = "macros")))]
/// # fn main() {}
/// ```
pub async fn run_job(registry: &JobRegistry, job: &JobBuilder) -> Result<RunOutcome> {
    JobTester::new(registry).run(job).await
}

/// How a job run by [`run_job`] or [`JobTester::run`] ended.
///
/// Attempts are counted as [`CurrentJob::attempt`](crate::CurrentJob::attempt)
/// counts them: 1 for the first run. Errors are the text the runner
/// records with a failed attempt: the job's error with its sources, or its
/// panic message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunOutcome {
    /// The job completed, in its `attempts`-th attempt.
    Completed {
        /// How many attempts it took.
        attempts: i32,
    },
    /// Every attempt the job was allowed failed.
    Failed {
        /// How many attempts ran.
        attempts: i32,
        /// The last attempt's error.
        error: String,
    },
    /// The attempts allowed by [`JobTester::set_max_attempts`] failed, and
    /// the job had retries left: in production it would run again.
    Retrying {
        /// How many attempts ran.
        attempts: i32,
        /// The last attempt's error.
        error: String,
    },
    /// The job had not finished when the time limit
    /// ([`JobTester::set_timeout`]) ran out: it hangs, or waits for
    /// something that never comes. Its task is left running.
    Unfinished {
        /// How many attempts started.
        attempts: i32,
        /// The state the job was in ([`JobState::Running`] while an attempt
        /// is in progress).
        state: JobState,
    },
}

impl RunOutcome {
    /// Whether the job completed.
    pub fn is_completed(&self) -> bool {
        matches!(self, Self::Completed { .. })
    }

    /// How many attempts ran (or started, for
    /// [`Unfinished`](Self::Unfinished)).
    pub fn attempts(&self) -> i32 {
        match self {
            Self::Completed { attempts }
            | Self::Failed { attempts, .. }
            | Self::Retrying { attempts, .. }
            | Self::Unfinished { attempts, .. } => *attempts,
        }
    }

    /// The last attempt's error, when the job ended failing.
    pub fn error(&self) -> Option<&str> {
        match self {
            Self::Failed { error, .. } | Self::Retrying { error, .. } => Some(error),
            Self::Completed { .. } | Self::Unfinished { .. } => None,
        }
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Completed { attempts } => write!(f, "completed in attempt {attempts}"),
            Self::Failed { attempts, error } => {
                write!(f, "failed for good after {attempts} attempt(s): {error}")
            }
            Self::Retrying { attempts, error } => {
                write!(f, "failed {attempts} attempt(s), retries left: {error}")
            }
            Self::Unfinished { attempts, state } => {
                write!(f, "unfinished in attempt {attempts}, {state}")
            }
        }
    }
}

/// Runs single jobs of a registry to their outcome, for unit tests: the
/// settings of [`run_job`].
///
/// Each [`run`](Self::run) spawns the job on a fresh [`MemoryBackend`] and
/// starts a runner of the registry on it (with its context values and
/// error handler), which runs it as a runner on PostgreSQL would, retries
/// included; the run returns once the job completed or ran out of
/// attempts, reported by the runner itself, so a test neither sleeps nor
/// polls. Three things differ from production, so that a test does not
/// wait for nothing:
///
/// - the job runs at once, whatever its delay or commit interval
///   (two-phase jobs count as committed);
/// - retries follow each other without backoff;
/// - the run stops at a time limit, 10 s unless
///   [`set_timeout`](Self::set_timeout) says otherwise.
///
/// ```
/// # #[cfg(all(feature = "runtime-tokio", feature = "macros"))]
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mq::BoxError> {
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
///
/// use mq::testing::{JobTester, RunOutcome};
/// use mq::{BoxError, CurrentJob, JobRegistry, job};
///
/// // A job that fails twice before it succeeds, counting its runs in a
/// // context value.
/// #[job(retries = 5)]
/// async fn flaky(mut job: CurrentJob, runs: Arc<AtomicU32>) -> Result<(), BoxError> {
///     if runs.fetch_add(1, Ordering::SeqCst) < 2 {
///         return Err("not yet".into());
///     }
///     job.complete().await?;
///     Ok(())
/// }
///
/// let runs = Arc::new(AtomicU32::new(0));
/// let mut registry = JobRegistry::new(&[flaky]);
/// registry.set_context(runs.clone());
///
/// // The first attempt alone: it fails, and would be retried.
/// let mut tester = JobTester::new(&registry);
/// tester.set_max_attempts(1).set_timeout(Duration::from_secs(5));
/// let outcome = tester.run(&flaky.builder()).await?;
/// assert_eq!(
///     outcome,
///     RunOutcome::Retrying { attempts: 1, error: "not yet".into() }
/// );
///
/// // All its attempts: the second one (third run in all) completes.
/// let outcome = JobTester::new(&registry).run(&flaky.builder()).await?;
/// assert_eq!(outcome, RunOutcome::Completed { attempts: 2 });
/// assert_eq!(runs.load(Ordering::SeqCst), 3);
/// # Ok(())
/// # }
/// # #[cfg(not(all(feature = "runtime-tokio", feature = "macros")))]
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct JobTester {
    registry: JobRegistry,
    spawner: Option<Arc<dyn Spawner>>,
    timeout: Duration,
    max_attempts: Option<u32>,
}

impl fmt::Debug for JobTester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobTester")
            .field("registry", &self.registry)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl JobTester {
    /// Runs jobs of `registry` (a copy of it, taken now: context values
    /// set later are not seen), on the runtime this crate's features chose
    /// (`mq::default_spawner()`). Without a runtime feature, give it one
    /// with [`set_spawner`](Self::set_spawner).
    pub fn new(registry: &JobRegistry) -> Self {
        #[cfg(any(feature = "runtime-tokio", feature = "runtime-async-std"))]
        let spawner = Some(crate::default_spawner());
        #[cfg(not(any(feature = "runtime-tokio", feature = "runtime-async-std")))]
        let spawner = None;
        Self {
            registry: registry.clone(),
            spawner,
            timeout: Duration::from_secs(10),
            max_attempts: None,
        }
    }

    /// How long a run may take before it returns
    /// [`RunOutcome::Unfinished`] (default 10 s).
    pub fn set_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = timeout;
        self
    }

    /// Runs at most this many attempts (at least 1): if they all fail and
    /// the job has retries left, the run ends with
    /// [`RunOutcome::Retrying`]. By default a run makes every attempt the
    /// job allows (its retries and one).
    pub fn set_max_attempts(&mut self, attempts: u32) -> &mut Self {
        self.max_attempts = Some(attempts.max(1));
        self
    }

    /// Runs the runner on `spawner` instead of the default runtime's.
    pub fn set_spawner(&mut self, spawner: Arc<dyn Spawner>) -> &mut Self {
        self.spawner = Some(spawner);
        self
    }

    /// Spawns `job` on a fresh [`MemoryBackend`] and runs it with the
    /// registry's function for its name, as described on [`JobTester`].
    ///
    /// Fails, rather than returning an outcome, when the job cannot run at
    /// all: the registry has no job of that name ([`Error::InvalidInput`],
    /// field `name`), lacks a context value a job needs
    /// ([`Error::MissingContext`]), or the job cannot be spawned (an
    /// invalid builder); and with [`Error::NoRuntime`] when there is no
    /// runtime to run on.
    pub async fn run(&self, job: &JobBuilder) -> Result<RunOutcome> {
        let spawner = self.spawner.clone().ok_or(Error::NoRuntime)?;
        let name = job.job().name.as_str();
        if self.registry.resolve_job(name).is_none() {
            return Err(Error::invalid(
                "name",
                format!("the registry has no job named {name:?}"),
            ));
        }

        let mut job = job.clone();
        job.set_delay(Duration::ZERO)
            .set_commit_interval(None)
            .set_retry_backoff(Duration::ZERO);
        // With fewer attempts than the job allows, the last one allowed
        // fails the job for good, so that the runner cannot have started
        // another by the time it is stopped.
        let retries = job.job().retries;
        let cut_short = self
            .max_attempts
            .is_some_and(|attempts| retries >= attempts);
        if let Some(attempts) = self.max_attempts.filter(|_| cut_short) {
            job.set_retries(attempts - 1);
        }
        let id = job.id();

        let backend = MemoryBackend::new();
        let (reports, mut ended) = mpsc::unbounded();
        let mut runner = self
            .registry
            .runner(&backend)
            .set_spawner(spawner.clone())
            .set_concurrency(1, 1)
            // Retries are ready at once; poll often, so that none waits.
            .set_poll_interval(Duration::from_millis(10))
            // The completed job stays, with its attempt count.
            .set_keep_completed(true)
            .set_metrics(Arc::new(WatchJob { id, reports }))
            .run()
            .await?;
        job.spawn(&backend).await?;

        let wait_for_end = async {
            while let Some(outcome) = ended.next().await {
                match outcome {
                    JobOutcome::Completed | JobOutcome::Failed => return true,
                    // The next attempt starts at once, or (released or
                    // unrecorded) once the runner takes the job again.
                    _ => {}
                }
            }
            false
        };
        let started = std::time::Instant::now();
        let finished = timeout(spawner.as_ref(), self.timeout, wait_for_end)
            .await
            .unwrap_or(false);
        runner.stop().await;
        if finished {
            // The job's code may go on after it completed: let it end, so
            // that its effects are there when the test looks.
            let left = self.timeout.saturating_sub(started.elapsed());
            runner.wait_jobs_finish(left).await;
        }

        let info = backend
            .job_get(JobGetParams { id })
            .await?
            .ok_or_else(|| Error::NotFound { ids: vec![id] })?;
        let attempts = info.attempt;
        let error = || {
            info.last_error()
                .map(|failed| failed.error.clone())
                .unwrap_or_default()
        };
        Ok(match info.state {
            JobState::Completed => RunOutcome::Completed { attempts },
            JobState::Failed if cut_short => RunOutcome::Retrying {
                attempts,
                error: error(),
            },
            JobState::Failed => RunOutcome::Failed {
                attempts,
                error: error(),
            },
            state => RunOutcome::Unfinished { attempts, state },
        })
    }
}

/// Tells [`JobTester::run`] how each attempt of its job ended: the runner
/// reports it once the outcome is stored.
struct WatchJob {
    id: Uuid,
    reports: mpsc::UnboundedSender<JobOutcome>,
}

impl RunnerMetrics for WatchJob {
    fn job_finished(&self, report: &JobReport<'_>) {
        if report.id == self.id {
            let _ = self.reports.unbounded_send(report.outcome);
        }
    }
}
