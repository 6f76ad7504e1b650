//! Named jobs, their shared context, and running them from a registry.

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Either};
use tracing::Instrument;
use uuid::Uuid;

use crate::builder::JobBuilder;
use crate::error::{BoxError, Error, Result};
use crate::executor::IntoBackend;
use crate::job::CurrentJob;
use crate::periodic::Schedule;
use crate::periodic::set::ScheduleSet;
use crate::runner::JobRunnerOptions;
use crate::runner::attempt::{Attempt, Ending};
use crate::spawner::Spawner;

/// What a job function returns.
pub type JobResult = std::result::Result<(), BoxError>;

/// A running job function.
pub type JobFuture = BoxFuture<'static, JobResult>;

/// How a registry runs one job: builds its future, resolving context
/// arguments from the registry.
pub type JobRunFn = fn(&JobRegistry, CurrentJob) -> Result<JobFuture>;

/// Checks that a registry holds every context value a job needs.
pub type JobCheckFn = fn(&JobRegistry) -> Result<()>;

/// A job function known by name, as the [`job`](../mq/attr.job.html)
/// attribute declares it: its name, its default options, and how to run it.
pub struct NamedJob {
    name: &'static str,
    build: fn(&mut JobBuilder),
    check: JobCheckFn,
    run: JobRunFn,
    schedule: Option<NamedSchedule>,
}

/// The schedule of a job declared with `#[job(cron = "...")]` or
/// `#[job(every_secs = N)]`.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum NamedSchedule {
    /// A cron expression, with its time zone.
    Cron {
        /// The expression.
        expression: &'static str,
        /// The IANA time zone, if not UTC.
        time_zone: Option<&'static str>,
    },
    /// An interval in whole seconds.
    Every {
        /// The period.
        secs: u64,
    },
}

impl NamedSchedule {
    fn build(self, job_name: &str) -> Result<Schedule> {
        match self {
            Self::Cron {
                expression,
                time_zone,
            } => {
                let schedule = Schedule::cron(job_name, expression)?;
                match time_zone {
                    Some(zone) => schedule.set_time_zone(zone),
                    None => Ok(schedule),
                }
            }
            Self::Every { secs } => Schedule::every(job_name, Duration::from_secs(secs)),
        }
    }
}

impl fmt::Debug for NamedJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamedJob")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NamedJob {
    /// Used by the `#[job]` macro.
    #[doc(hidden)]
    pub const fn new_internal(
        name: &'static str,
        build: fn(&mut JobBuilder),
        check: JobCheckFn,
        run: JobRunFn,
    ) -> Self {
        Self {
            name,
            build,
            check,
            run,
            schedule: None,
        }
    }

    /// Used by the `#[job]` macro: the job's schedule.
    #[doc(hidden)]
    pub const fn with_schedule_internal(mut self, schedule: NamedSchedule) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// The job's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// A builder for this job with its default options applied.
    pub fn builder(&self) -> JobBuilder {
        self.builder_with_id(Uuid::now_v7())
    }

    /// Like [`builder`](Self::builder), for a job with the id `id` (which
    /// must be new: spawning a job with an id in use fails).
    pub fn builder_with_id(&self, id: Uuid) -> JobBuilder {
        let mut builder = JobBuilder::new_with_id(id, self.name);
        (self.build)(&mut builder);
        builder
    }
}

/// What the error handler receives: the job's error, boxed, as sqlxmq
/// passes it (so a sqlxmq handler with its argument types spelled out
/// compiles unchanged).
pub type HandlerError = Box<dyn std::error::Error + Send + 'static>;

type ErrorHandler = dyn Fn(&str, HandlerError) + Send + Sync;

/// The jobs a runner knows, the context values they receive, and the
/// handler of their errors.
#[derive(Clone)]
pub struct JobRegistry {
    jobs: HashMap<&'static str, &'static NamedJob>,
    /// Names given to two different jobs: refused when a runner starts.
    duplicates: Vec<&'static str>,
    context: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
    error_handler: Option<Arc<ErrorHandler>>,
    /// Shared by every clone, and read by running runners.
    schedules: Arc<ScheduleSet>,
    /// Schedules of `#[job]` attributes that could not be built (a time
    /// zone this machine does not know): refused when a runner starts.
    schedule_errors: Vec<String>,
}

impl fmt::Debug for JobRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.jobs.keys().collect();
        names.sort();
        f.debug_struct("JobRegistry")
            .field("jobs", &names)
            .finish_non_exhaustive()
    }
}

impl JobRegistry {
    /// A registry of `jobs`. Two different jobs with the same name are a
    /// mistake that [`runner`](Self::runner)'s `run()` refuses with
    /// [`Error::InvalidInput`] (sqlxmq panics here instead).
    pub fn new(jobs: &[&'static NamedJob]) -> Self {
        let mut registry = Self {
            jobs: HashMap::new(),
            duplicates: Vec::new(),
            context: HashMap::new(),
            error_handler: None,
            schedules: Arc::default(),
            schedule_errors: Vec::new(),
        };
        for job in jobs {
            registry.add(job);
        }
        registry
    }

    /// Adds a job. Adding the same job twice changes nothing; adding a
    /// different job under a name already taken is refused when a runner
    /// starts, as in [`new`](Self::new).
    /// A job declared with a schedule (`#[job(cron = "...")]`) brings it
    /// along, as [`add_schedule`](Self::add_schedule) would.
    pub fn add(&mut self, job: &'static NamedJob) -> &mut Self {
        if let Some(known) = self.jobs.insert(job.name(), job)
            && !std::ptr::eq(known, job)
        {
            self.duplicates.push(job.name());
        }
        if let Some(schedule) = job.schedule {
            match schedule.build(job.name) {
                Ok(schedule) => self.schedules.insert(schedule),
                Err(error) => self
                    .schedule_errors
                    .push(format!("the schedule of job {:?}: {error}", job.name)),
            }
        }
        self
    }

    /// Adds a periodic job, or replaces the schedule of the same name.
    /// Every runner built from this registry (or a clone of it, which
    /// shares its schedules) declares it, now if it is running: the
    /// runners of all processes that declare a schedule elect one of them
    /// to spawn its ticks, each once (see [`Schedule`]).
    pub fn add_schedule(&self, schedule: Schedule) -> &Self {
        self.schedules.insert(schedule);
        self
    }

    /// Removes the schedule named `name`; returns whether there was one.
    /// This process's runners stop declaring it at once; the schedule is
    /// deleted from the database when no process has declared it for the
    /// runners' prune period
    /// ([`JobRunnerOptions::set_schedule_prune_after`]).
    pub fn remove_schedule(&self, name: &str) -> bool {
        self.schedules.remove(name)
    }

    /// The schedules this registry declares, by name.
    pub fn schedules(&self) -> Vec<Schedule> {
        self.schedules.snapshot().1.into_values().collect()
    }

    pub(crate) fn schedule_set(&self) -> Arc<ScheduleSet> {
        self.schedules.clone()
    }

    /// Makes `value` available to jobs that take an argument of type `C`.
    /// Each job receives its own clone.
    pub fn set_context<C: Clone + Send + Sync + 'static>(&mut self, value: C) -> &mut Self {
        self.context.insert(TypeId::of::<C>(), Arc::new(value));
        self
    }

    /// The context value of type `C`.
    pub fn context<C: Clone + Send + Sync + 'static>(&self) -> Option<C> {
        self.context
            .get(&TypeId::of::<C>())
            .and_then(|value| value.downcast_ref::<C>())
            .cloned()
    }

    /// Used by the `#[job]` macro: the context value of type `C`, or the
    /// error naming the job that needs it.
    #[doc(hidden)]
    pub fn require_context<C: Clone + Send + Sync + 'static>(&self, job: &str) -> Result<C> {
        self.context::<C>().ok_or_else(|| Error::MissingContext {
            job: job.to_owned(),
            type_name: type_name::<C>(),
        })
    }

    /// Sets the function called with a job's name and error whenever a job
    /// fails (returns an error or panics), needs a missing context value,
    /// or has a name this registry does not know. Errors are also reported
    /// through `tracing`.
    pub fn set_error_handler(
        &mut self,
        handler: impl Fn(&str, HandlerError) + Send + Sync + 'static,
    ) -> &mut Self {
        self.error_handler = Some(Arc::new(handler));
        self
    }

    /// The job registered under `name`.
    pub fn resolve_job(&self, name: &str) -> Option<&'static NamedJob> {
        self.jobs.get(name).copied()
    }

    /// Options for a runner that runs this registry's jobs on `backend`
    /// (the driver's pool, or a [`Backend`](crate::Backend)). A claimed job
    /// whose name the registry does not know is reported to the error
    /// handler and given back, without counting the attempt, for a runner
    /// that knows it.
    pub fn runner<D>(&self, backend: impl IntoBackend<D>) -> JobRunnerOptions {
        JobRunnerOptions::for_registry(backend, RegistryDispatch::new(self.clone()))
    }

    /// Checks that every job's context values are present.
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(name) = self.duplicates.first() {
            return Err(Error::invalid(
                "jobs",
                format!("two different jobs are named {name:?}"),
            ));
        }
        if let Some(error) = self.schedule_errors.first() {
            return Err(Error::invalid("schedule", error.clone()));
        }
        self.jobs.values().try_for_each(|job| (job.check)(self))
    }

    fn report(&self, job_name: &str, error: BoxError) {
        tracing::warn!(job = job_name, error = %error_text(error.as_ref()), "job failed");
        if let Some(handler) = &self.error_handler {
            handler(job_name, error as HandlerError);
        }
    }
}

/// A job's panic, as a job error.
#[derive(Debug, thiserror::Error)]
#[error("job panicked: {message}")]
pub struct JobPanicked {
    /// The panic message, when it was a string.
    pub message: String,
}

/// A job that ran past its timeout
/// ([`JobBuilder::set_timeout`](crate::JobBuilder::set_timeout)), as a job
/// error: its future was dropped and the attempt failed.
#[derive(Debug, thiserror::Error)]
#[error("job timed out after {after:?}")]
pub struct JobTimedOut {
    /// The job's timeout.
    pub after: std::time::Duration,
}

/// A claimed job whose name no registry entry matches. It is given back to
/// the queue, without counting the attempt, for a runner that knows it.
#[derive(Debug, thiserror::Error)]
#[error("no job named {name:?} is registered with this runner; it is left for another runner")]
pub struct UnknownJob {
    /// The job's name.
    pub name: String,
}

/// The most error text kept with a failed attempt.
pub const MAX_ERROR_TEXT: usize = 4096;

/// An error and its sources as one line, cut to [`MAX_ERROR_TEXT`] bytes.
pub fn error_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if text.len() > MAX_ERROR_TEXT {
        let mut end = MAX_ERROR_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}

/// Runs claimed jobs from a registry, each in its own task.
#[derive(Clone)]
pub(crate) struct RegistryDispatch {
    registry: Arc<JobRegistry>,
}

impl RegistryDispatch {
    pub fn new(registry: JobRegistry) -> Self {
        Self {
            registry: Arc::new(registry),
        }
    }

    pub fn registry(&self) -> &JobRegistry {
        &self.registry
    }

    pub fn dispatch(
        &self,
        spawner: &dyn Spawner,
        mut job: CurrentJob,
        unknown_job_delay: std::time::Duration,
    ) {
        let attempt: Arc<Attempt> = job.supervise();
        let registry = self.registry.clone();
        let name = attempt.name.clone();
        let Some(named) = registry.resolve_job(&name) else {
            drop(job);
            registry.report(&name, Box::new(UnknownJob { name: name.clone() }));
            attempt.end(|| Ending::Released(unknown_job_delay));
            return;
        };
        let future = match (named.run)(&registry, job) {
            Ok(future) => future,
            Err(error) => {
                let text = error_text(&error);
                registry.report(&name, Box::new(error));
                attempt.end(|| Ending::Failed(text));
                return;
            }
        };
        let span = attempt.span.clone();
        // At its timeout the job's future is dropped, wherever it waits.
        let timeout = attempt.timeout;
        let timed_out = match timeout {
            Some(_) => attempt.timed_out.fired().boxed(),
            None => futures::future::pending().boxed(),
        };
        let guard = EndOnDrop(attempt);
        spawner.spawn(
            async move {
                let run = AssertUnwindSafe(future.instrument(span)).catch_unwind();
                let outcome = match futures::future::select(run, timed_out).await {
                    Either::Left((outcome, _)) => Some(outcome),
                    Either::Right(((), _)) => None,
                };
                let error: Option<BoxError> = match outcome {
                    Some(Ok(Ok(()))) => None,
                    Some(Ok(Err(error))) => Some(error),
                    Some(Err(payload)) => Some(Box::new(JobPanicked {
                        message: panic_message(payload.as_ref()),
                    })),
                    // The attempt is failed already (Attempt::time_out).
                    None => Some(Box::new(JobTimedOut {
                        after: timeout.unwrap_or_default(),
                    })),
                };
                match error {
                    Some(error) => {
                        let text = error_text(error.as_ref());
                        registry.report(&name, error);
                        guard.0.end(|| Ending::Failed(text));
                    }
                    None => guard
                        .0
                        .end(|| Ending::Failed("the job returned without completing".to_owned())),
                }
            }
            .boxed(),
        );
    }
}

/// Ends the attempt if the registry's task is dropped before the job
/// returns (the runtime shut down).
struct EndOnDrop(Arc<Attempt>);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0
            .end(|| Ending::Failed("the job's task was cancelled".to_owned()));
    }
}
