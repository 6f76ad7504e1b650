//! The job runner: claims jobs and runs them.
//!
//! A runner is three tasks on the backend's [`Spawner`]:
//! - the claim loop (`claim_loop.rs`): claims jobs whenever fewer than the
//!   minimum are running, sleeping until a wake-up, a freed slot, the
//!   next due time or the poll interval;
//! - the outcome task (`outcomes.rs`): writes completions, failures and
//!   releases in batches;
//! - the keep-alive task (`keep_alive.rs`): extends the leases of all
//!   running jobs in one statement every third of the lease;
//! - with a registry, the scheduler (`scheduler.rs`): declares the
//!   registry's schedules and fires those this runner leads;
//! - the activity task (`activity.rs`): reports the runner and the
//!   attempts that ended, every few seconds, for dashboards.
//!
//! Each claimed job is an attempt (`attempt.rs`) with one explicit state.
//! Stopping a runner stops the claim loop; the other two tasks go on until
//! every attempt in hand has its outcome written, and a claim that returns
//! after the stop gives its jobs back at once.

pub(crate) mod activity;
pub(crate) mod attempt;
pub(crate) mod cancel;
pub(crate) mod claim_loop;
pub(crate) mod hot_channels;
pub(crate) mod keep_alive;
pub(crate) mod limited;
pub(crate) mod outcomes;
pub mod report;
pub(crate) mod scheduler;
pub(crate) mod shared;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::channel::mpsc;
use futures::future::{BoxFuture, Shared};

use crate::CurrentJob;
use crate::backend::{Backend, ListenParams};
use crate::error::{Error, Result};
use crate::executor::IntoBackend;
use crate::registry::RegistryDispatch;
use crate::spawner::{Spawner, spawn_with_handle, timeout};
use report::RunnerMetrics;
use shared::{Dispatch, RunnerConfig, RunnerShared};

/// The default of [`JobRunnerOptions::set_activity_interval`].
pub const DEFAULT_ACTIVITY_INTERVAL: Duration = Duration::from_secs(5);

/// The default of [`JobRunnerOptions::set_schedule_lease`].
pub const DEFAULT_SCHEDULE_LEASE: Duration = Duration::from_secs(15);

/// How to run jobs: on which backend, how many at once, from which
/// channels. [`run`](Self::run) starts the runner.
pub struct JobRunnerOptions {
    backend: Arc<dyn Backend>,
    /// The runtime: what the backend came paired with, or what
    /// [`set_spawner`](Self::set_spawner) gave.
    spawner: Option<Arc<dyn Spawner>>,
    dispatch: Dispatch,
    config: RunnerConfig,
    metrics: Option<Arc<dyn RunnerMetrics>>,
}

impl fmt::Debug for JobRunnerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobRunnerOptions")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl JobRunnerOptions {
    /// Options for a runner on `backend` (the driver's pool, or a
    /// [`Backend`]) that hands each claimed job to `run`.
    ///
    /// `run` is called on the claim loop, so it must not block: spawn a task
    /// for the job. A job that `run`'s task drops without completing is
    /// retried.
    pub fn new<D>(
        backend: impl IntoBackend<D>,
        run: impl Fn(CurrentJob) + Send + Sync + 'static,
    ) -> Self {
        Self::with_dispatch(backend, Dispatch::Callback(Arc::new(run)))
    }

    pub(crate) fn for_registry<D>(
        backend: impl IntoBackend<D>,
        registry: RegistryDispatch,
    ) -> Self {
        Self::with_dispatch(backend, Dispatch::Registry(registry))
    }

    fn with_dispatch<D>(backend: impl IntoBackend<D>, dispatch: Dispatch) -> Self {
        Self {
            spawner: backend.spawner(),
            backend: backend.into_backend(),
            dispatch,
            metrics: None,
            config: RunnerConfig {
                min_concurrency: 64,
                max_concurrency: 128,
                channel_names: None,
                keep_alive: true,
                lease: Duration::from_secs(30),
                poll_interval: Duration::from_secs(1),
                unknown_job_delay: Duration::from_secs(5),
                completion_batch: 1000,
                vacuum_every: Some(10_000),
                keep_completed: false,
                schedule_lease: DEFAULT_SCHEDULE_LEASE,
                schedule_prune_after: Duration::from_secs(3600),
                run_schedules: true,
                channel_limits: Vec::new(),
                name: activity::default_name(),
                activity_interval: Some(DEFAULT_ACTIVITY_INTERVAL),
                activity_retention: crate::activity::DEFAULT_RETENTION,
            },
        }
    }

    /// Keeps between `min` and `max` jobs running: whenever fewer than
    /// `min` run, claims up to `max` minus the running count in one batch.
    /// Defaults to 64 and 128: async jobs are cheap to keep in flight, and
    /// claiming in batches of 64 or more is what lets one runner drain
    /// tens of thousands of short jobs a second. `max` is raised to `min` and both to at
    /// least 1.
    pub fn set_concurrency(&mut self, min: usize, max: usize) -> &mut Self {
        let min = min.max(1);
        self.config.min_concurrency = min;
        self.config.max_concurrency = max.max(min);
        self
    }

    /// Only runs jobs of these channel names (with any arguments). By
    /// default a runner takes jobs of every channel.
    pub fn set_channel_names<S: AsRef<str>>(&mut self, channel_names: &[S]) -> &mut Self {
        self.config.channel_names = Some(
            channel_names
                .iter()
                .map(|name| name.as_ref().to_owned())
                .collect(),
        );
        self
    }

    /// Whether running jobs' leases are extended automatically (default:
    /// yes). Without it, a job must finish or call
    /// [`CurrentJob::keep_alive`] within its lease, or another runner may
    /// start it again.
    pub fn set_keep_alive(&mut self, keep_alive: bool) -> &mut Self {
        self.config.keep_alive = keep_alive;
        self
    }

    /// How long a claimed job is held before another runner may take it
    /// over if this one dies (default 30 s). With keep-alive on, the lease
    /// is renewed every third of this.
    pub fn set_lease(&mut self, lease: Duration) -> &mut Self {
        self.config.lease = lease.max(Duration::from_millis(100));
        self
    }

    /// How often the runner looks for work when no notification arrives
    /// (default 1 s). Notifications usually wake it much sooner; polling
    /// covers notifications lost with a connection.
    pub fn set_poll_interval(&mut self, poll_interval: Duration) -> &mut Self {
        self.config.poll_interval = poll_interval.max(Duration::from_millis(10));
        self
    }

    /// Vacuums the jobs table after every `jobs` jobs this runner claims (at
    /// most every 2 s, and one process at a time), instead of waiting for
    /// autovacuum; `None` leaves it to autovacuum. Default: every 10,000
    /// jobs.
    ///
    /// A queue's rows die fast: every claim leaves a dead index entry and
    /// every completion a dead row. Until they are reclaimed each claim
    /// walks past them, and autovacuum looks at a table at most once a
    /// minute, so a runner draining a deep queue slows down as it goes (to
    /// half its speed over a million jobs, measured) unless it vacuums as
    /// it goes. Vacuuming needs ownership of `mq_jobs` (the role that ran
    /// the migrations has it); without it PostgreSQL skips the vacuum with
    /// a warning.
    pub fn set_vacuum_every(&mut self, jobs: Option<u64>) -> &mut Self {
        self.config.vacuum_every = jobs.map(|n| n.max(1));
        self
    }

    /// How long a job whose name the registry does not know waits before it
    /// is offered again (default 5 s).
    pub fn set_unknown_job_delay(&mut self, delay: Duration) -> &mut Self {
        self.config.unknown_job_delay = delay;
        self
    }

    /// Keeps completed jobs, in state [`Completed`](crate::JobState::Completed)
    /// with their completion time, instead of deleting them (default: off).
    /// They can then be inspected with [`admin`](crate::admin), until
    /// [`admin::prune`](crate::admin::prune) deletes them: prune
    /// regularly, or the jobs table grows without end. A kept job no longer
    /// holds its ordered channel, and [`exists`](crate::exists) is false
    /// for it.
    pub fn set_keep_completed(&mut self, keep_completed: bool) -> &mut Self {
        self.config.keep_completed = keep_completed;
        self
    }

    /// How long a runner leads a schedule without renewing its lease
    /// (default [`DEFAULT_SCHEDULE_LEASE`], 15 s; at least a second). The
    /// leader renews it every quarter of this, so a leader that dies is
    /// replaced within this long by another runner declaring the schedule;
    /// ticks due meanwhile are spawned late, once. Keep it shorter than the
    /// schedules' [`set_missed_after`](crate::Schedule::set_missed_after).
    pub fn set_schedule_lease(&mut self, lease: Duration) -> &mut Self {
        self.config.schedule_lease = lease.max(Duration::from_secs(1));
        self
    }

    /// How long a schedule that no runner declares any more is kept
    /// (default an hour): its due time survives a restart of every process
    /// that is shorter than this, so that missed ticks can be caught up.
    pub fn set_schedule_prune_after(&mut self, prune_after: Duration) -> &mut Self {
        self.config.schedule_prune_after = prune_after;
        self
    }

    /// Whether this runner declares and fires its registry's schedules
    /// (default: yes). Turn it off for all runners of a process but one
    /// when a process runs several from one registry.
    pub fn set_run_schedules(&mut self, run_schedules: bool) -> &mut Self {
        self.config.run_schedules = run_schedules;
        self
    }

    /// Sets `limit` on its channel as the runner starts, for every runner
    /// of every process (as [`admin::set_limit`](crate::admin::set_limit)
    /// does): the application declares its limits with the runners that
    /// need them. A runner takes the jobs of a limited channel with
    /// limited claims, whoever set the limit.
    pub fn set_channel_limit(&mut self, limit: crate::limits::ChannelLimit) -> &mut Self {
        self.config
            .channel_limits
            .retain(|known| known.channel_name() != limit.channel_name());
        self.config.channel_limits.push(limit);
        self
    }

    /// The runner's name in [`admin::runners`](crate::admin::runners)
    /// (default: the host's name and the process id, `host:1234`).
    pub fn set_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.config.name = name.into();
        self
    }

    /// How often the runner reports what it does to the database
    /// (default [`DEFAULT_ACTIVITY_INTERVAL`], 5 s), for dashboards: its
    /// row in [`admin::runners`](crate::admin::runners), and the attempts
    /// that ended since its last report, added to the counts per minute
    /// and channel name of [`admin::throughput`](crate::admin::throughput).
    /// One short statement per report; `None` never reports. A runner
    /// that stops reports once more as its last job ends, and leaves the
    /// list.
    pub fn set_activity_interval(&mut self, interval: Option<Duration>) -> &mut Self {
        self.config.activity_interval = interval.map(|i| i.max(Duration::from_millis(10)));
        self
    }

    /// How long the counts per minute are kept (default a day); each
    /// report deletes older ones.
    pub fn set_activity_retention(&mut self, retention: Duration) -> &mut Self {
        self.config.activity_retention = retention.min(crate::builder::MAX_DURATION);
        self
    }

    /// Reports the runner's measurements to `metrics`: claims and their
    /// latency, each attempt's outcome and run time, the running count.
    /// See [`report`] (and the `mq` crate's `metrics` feature).
    pub fn set_metrics(&mut self, metrics: Arc<dyn RunnerMetrics>) -> &mut Self {
        self.metrics = Some(metrics);
        self
    }

    /// Runs the runner's tasks (and whatever background work its backend's
    /// wake-ups need) on `spawner`: the runtime to run on. A pool or
    /// backend of a driver comes paired with the runtime the `mq` crate's
    /// features chose, which this replaces; a backend of your own
    /// ([`StandaloneBackend`](crate::StandaloneBackend)) needs it.
    pub fn set_spawner(&mut self, spawner: Arc<dyn Spawner>) -> &mut Self {
        self.spawner = Some(spawner);
        self
    }

    /// Starts the runner. It listens for notifications before its first
    /// claim, so no spawn is missed, and runs until the returned handle is
    /// stopped or dropped.
    pub async fn run(&self) -> Result<JobRunnerHandle> {
        if let Dispatch::Registry(registry) = &self.dispatch {
            registry.registry().check()?;
        }
        let spawner = self.spawner.clone().ok_or(Error::NoRuntime)?;
        for limit in &self.config.channel_limits {
            self.backend
                .channel_limit(crate::limits::ChannelLimitParams {
                    channel_name: limit.channel_name(),
                    action: crate::limits::LimitAction::Set(limit),
                })
                .await?;
        }
        let dispatch = self.dispatch.clone();
        let wakeups = self
            .backend
            .listen(ListenParams { spawner: &spawner })
            .await?;
        let (events_tx, events_rx) = mpsc::unbounded();
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded();
        let shared = Arc::new(RunnerShared::new(
            self.backend.clone(),
            spawner.clone(),
            self.config.clone(),
            dispatch,
            self.metrics.clone(),
            events_tx,
            outcomes_tx,
        ));
        spawner.spawn(outcomes::run(shared.clone(), outcomes_rx).boxed());
        if self.config.keep_alive {
            spawner.spawn(keep_alive::run(shared.clone()).boxed());
        }
        spawner.spawn(activity::run(shared.clone()).boxed());
        let scheduler = match &self.dispatch {
            Dispatch::Registry(registry) if self.config.run_schedules => {
                let task = scheduler::run(shared.clone(), registry.registry().clone());
                Some(
                    spawn_with_handle(spawner.as_ref(), task)
                        .map(|_| ())
                        .boxed()
                        .shared(),
                )
            }
            _ => None,
        };
        let claim_loop = spawn_with_handle(
            spawner.as_ref(),
            claim_loop::run(shared.clone(), wakeups, events_rx),
        );
        Ok(JobRunnerHandle {
            shared,
            claim_loop: claim_loop.map(|_| ()).boxed().shared(),
            scheduler,
        })
    }
}

/// A running job runner. Dropping it stops the runner from claiming more
/// jobs, like [`stop`](Self::stop); jobs already running carry on.
pub struct JobRunnerHandle {
    shared: Arc<RunnerShared>,
    claim_loop: Shared<BoxFuture<'static, ()>>,
    /// The scheduler task, which gives its schedule leases up as it ends.
    scheduler: Option<Shared<BoxFuture<'static, ()>>>,
}

impl fmt::Debug for JobRunnerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobRunnerHandle")
            .field("running", &self.num_running_jobs())
            .field("stopping", &self.shared.is_stopping())
            .finish()
    }
}

impl JobRunnerHandle {
    /// How many jobs this runner is running now.
    pub fn num_running_jobs(&self) -> usize {
        self.shared.running_count()
    }

    /// Stops claiming jobs and returns once the claim loop has ended.
    /// Running jobs carry on, and can still complete; wait for them with
    /// [`wait_jobs_finish`](Self::wait_jobs_finish). Jobs whose claim was
    /// in flight when the runner stopped are given back at once, their
    /// attempt not counted, for another runner to take. The schedules this
    /// runner led are given up, for another process's runner to take over
    /// at once.
    pub async fn stop(&mut self) {
        self.shared.stop();
        self.claim_loop.clone().await;
        if let Some(scheduler) = &self.scheduler {
            scheduler.clone().await;
        }
    }

    /// Waits until no job is running, or `timeout` passes. Returns whether
    /// all jobs finished.
    pub async fn wait_jobs_finish(&self, timeout_after: Duration) -> bool {
        let idle = self.shared.idle();
        timeout(self.shared.spawner.as_ref(), timeout_after, idle)
            .await
            .is_some()
    }
}

impl Drop for JobRunnerHandle {
    fn drop(&mut self) {
        self.shared.stop();
    }
}
