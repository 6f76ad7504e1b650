//! State shared by a runner's tasks and the jobs it hands out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::channel::{mpsc, oneshot};
use uuid::Uuid;

use crate::CurrentJob;
use crate::backend::{Backend, ClaimedJob, JobLease};
use crate::error::Result;
use crate::registry::RegistryDispatch;
use crate::retry::retry_delay;
use crate::runner::report::{JobOutcome, JobReport, RunnerMetrics};
use crate::spawner::Spawner;

/// How a runner hands claimed jobs to user code.
#[derive(Clone)]
pub(crate) enum Dispatch {
    /// A plain callback; jobs it drops without completing are retried.
    Callback(Arc<dyn Fn(CurrentJob) + Send + Sync>),
    /// A registry, which runs each job in its own task and reports errors.
    Registry(RegistryDispatch),
}

/// The runner's settings, fixed when it starts.
#[derive(Clone, Debug)]
pub(crate) struct RunnerConfig {
    pub min_concurrency: usize,
    pub max_concurrency: usize,
    pub channel_names: Option<Vec<String>>,
    pub keep_alive: bool,
    pub lease: Duration,
    pub poll_interval: Duration,
    pub unknown_job_delay: Duration,
    pub completion_batch: usize,
    /// Vacuum after this many claimed jobs (at most every
    /// [`VACUUM_MIN_INTERVAL`]); `None` leaves it to autovacuum.
    pub vacuum_every: Option<u64>,
    /// Completed jobs are kept (state completed) instead of deleted.
    pub keep_completed: bool,
}

/// The least time between two vacuums started by one runner.
pub(crate) const VACUUM_MIN_INTERVAL: Duration = Duration::from_secs(2);

/// What the claim loop reacts to besides wake-ups and its timer.
#[derive(Debug)]
pub(crate) enum LoopEvent {
    /// A job finished; a slot is free.
    JobFinished,
    /// Completing an ordered job may have made its successor runnable.
    MoreWork,
    /// Stop claiming.
    Stop,
}

/// Work for the outcome task, which records how attempts ended.
pub(crate) enum Outcome {
    Complete {
        attempt: Arc<Attempt>,
        ack: oneshot::Sender<Result<bool>>,
    },
    Fail {
        attempt: Arc<Attempt>,
        error: String,
    },
    Release {
        attempt: Arc<Attempt>,
        delay: Duration,
    },
    Shutdown,
}

/// One entry per running attempt, read by the keep-alive task.
pub(crate) struct Running {
    pub token: i32,
    pub lost: Arc<AtomicBool>,
}

pub(crate) struct RunnerShared {
    pub backend: Arc<dyn Backend>,
    pub spawner: Arc<dyn Spawner>,
    pub config: RunnerConfig,
    pub dispatch: Dispatch,
    pub metrics: Option<Arc<dyn RunnerMetrics>>,
    running: Mutex<HashMap<Uuid, Running>>,
    /// Running jobs whose work is done and whose completion is being
    /// written: they no longer take a slot.
    completing: AtomicUsize,
    /// A vacuum started by this runner is running.
    pub vacuuming: AtomicBool,
    idle_waiters: Mutex<Vec<oneshot::Sender<()>>>,
    stopping: AtomicBool,
    pub events: mpsc::UnboundedSender<LoopEvent>,
    pub outcomes: mpsc::UnboundedSender<Outcome>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind
    // (maps and vectors), which stays consistent, so poisoning is ignored.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl RunnerShared {
    pub fn new(
        backend: Arc<dyn Backend>,
        spawner: Arc<dyn Spawner>,
        config: RunnerConfig,
        dispatch: Dispatch,
        metrics: Option<Arc<dyn RunnerMetrics>>,
        events: mpsc::UnboundedSender<LoopEvent>,
        outcomes: mpsc::UnboundedSender<Outcome>,
    ) -> Self {
        Self {
            backend,
            spawner,
            config,
            dispatch,
            metrics,
            running: Mutex::new(HashMap::new()),
            completing: AtomicUsize::new(0),
            vacuuming: AtomicBool::new(false),
            idle_waiters: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            events,
            outcomes,
        }
    }

    pub fn running_count(&self) -> usize {
        lock(&self.running).len()
    }

    /// How many slots are taken: running jobs, less those whose completion
    /// is only being written. Claims fill the other slots, so the next
    /// batch is claimed while the last one's completions are in flight.
    pub fn busy_count(&self) -> usize {
        self.running_count()
            .saturating_sub(self.completing.load(Ordering::SeqCst))
    }

    /// The leases the keep-alive task should extend.
    pub fn running_leases(&self) -> Vec<(JobLease, Arc<AtomicBool>)> {
        lock(&self.running)
            .iter()
            .filter(|(_, r)| !r.lost.load(Ordering::Relaxed))
            .map(|(id, r)| {
                (
                    JobLease {
                        id: *id,
                        token: r.token,
                    },
                    r.lost.clone(),
                )
            })
            .collect()
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Stops claiming. Running jobs go on; the runner's tasks end once they
    /// have all finished.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.events.unbounded_send(LoopEvent::Stop);
        self.shutdown_if_idle();
    }

    fn shutdown_if_idle(&self) {
        if self.is_stopping() && self.running_count() == 0 {
            let _ = self.outcomes.unbounded_send(Outcome::Shutdown);
        }
    }

    /// A future that resolves once no job is running.
    pub fn idle(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        // Check under the waiters lock: `deregister` takes the same lock
        // after emptying the map, so a waiter cannot be missed.
        let mut waiters = lock(&self.idle_waiters);
        if self.running_count() == 0 {
            let _ = tx.send(());
        } else {
            waiters.push(tx);
        }
        rx
    }

    /// Records a claimed job as running and wraps it for user code.
    pub fn start(self: &Arc<Self>, job: ClaimedJob) -> CurrentJob {
        let lost = Arc::new(AtomicBool::new(false));
        let running = {
            let mut running = lock(&self.running);
            running.insert(
                job.id,
                Running {
                    token: job.lease_token,
                    lost: lost.clone(),
                },
            );
            running.len()
        };
        if let Some(metrics) = &self.metrics {
            metrics.jobs_running(running);
        }
        let span = tracing::info_span!(
            "mq.job",
            job.id = %job.id,
            job.name = %job.name,
            job.channel = %job.channel_name,
            job.attempt = job.attempt,
        );
        let attempt = Arc::new(Attempt {
            started: Instant::now(),
            span,
            shared: self.clone(),
            lease: job.lease(),
            number: job.attempt,
            name: job.name,
            channel_name: job.channel_name,
            channel_args: job.channel_args,
            ordered: job.ordered,
            retry_backoff: job.retry_backoff,
            finished: AtomicBool::new(false),
            completing: AtomicBool::new(false),
            settled: AtomicBool::new(false),
            supervised: AtomicBool::new(false),
            lost,
        });
        CurrentJob::new(attempt, job.payload_json, job.payload_bytes)
    }

    /// Forgets a finished attempt and wakes whoever waits for a free slot
    /// or for the runner to go idle.
    pub fn deregister(&self, id: Uuid) {
        let running = {
            let mut running = lock(&self.running);
            running.remove(&id);
            running.len()
        };
        if let Some(metrics) = &self.metrics {
            metrics.jobs_running(running);
        }
        let now_idle = running == 0;
        let _ = self.events.unbounded_send(LoopEvent::JobFinished);
        if now_idle {
            for waiter in lock(&self.idle_waiters).drain(..) {
                let _ = waiter.send(());
            }
            self.shutdown_if_idle();
        }
    }
}

/// One attempt of one job, from claim until its outcome is recorded.
pub(crate) struct Attempt {
    pub shared: Arc<RunnerShared>,
    /// When the job was claimed.
    pub started: Instant,
    /// The `mq.job` span the attempt runs in.
    pub span: tracing::Span,
    pub lease: JobLease,
    /// The attempt number (1 for the first run).
    pub number: i32,
    pub name: String,
    pub channel_name: String,
    pub channel_args: String,
    pub ordered: bool,
    pub retry_backoff: Duration,
    /// The job completed (or its lease was found lost): nothing to record.
    pub finished: AtomicBool,
    /// The job asked to complete and its slot was freed (see
    /// [`RunnerShared::busy_count`]).
    completing: AtomicBool,
    /// The outcome has been handed over; it is handed over once.
    settled: AtomicBool,
    /// A supervisor (the registry's task) settles the attempt with the
    /// job's error; otherwise dropping the `CurrentJob` settles it.
    pub supervised: AtomicBool,
    /// The keep-alive found that another runner took the job over.
    pub lost: Arc<AtomicBool>,
}

impl Attempt {
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// The job's work is done and its completion is on its way: free its
    /// slot now rather than when the completion is durable.
    pub fn begin_completing(&self) {
        if !self.completing.swap(true, Ordering::SeqCst) {
            self.shared.completing.fetch_add(1, Ordering::SeqCst);
            let _ = self.shared.events.unbounded_send(LoopEvent::JobFinished);
        }
    }

    /// The completion failed, or the attempt is over: the slot accounting
    /// returns to the running map alone.
    pub fn end_completing(&self) {
        if self.completing.swap(false, Ordering::SeqCst) {
            self.shared.completing.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Records how the attempt ended, once: nothing if it completed, else a
    /// failed attempt with `error` (retried if attempts remain).
    pub fn settle(self: &Arc<Self>, error: impl FnOnce() -> String) {
        if self.settled.swap(true, Ordering::SeqCst) {
            return;
        }
        self.end_completing();
        if self.finished.load(Ordering::SeqCst) || self.is_lost() {
            self.shared.deregister(self.lease.id);
            return;
        }
        let outcome = Outcome::Fail {
            attempt: self.clone(),
            error: error(),
        };
        if self.shared.outcomes.unbounded_send(outcome).is_err() {
            // The outcome task is gone (the runtime is shutting down); the
            // lease will lapse and the job will be retried by another runner.
            self.shared.deregister(self.lease.id);
        }
    }

    /// Gives the job back without counting the attempt.
    pub fn release(self: &Arc<Self>, delay: Duration) {
        if self.settled.swap(true, Ordering::SeqCst) {
            return;
        }
        let outcome = Outcome::Release {
            attempt: self.clone(),
            delay,
        };
        if self.shared.outcomes.unbounded_send(outcome).is_err() {
            self.shared.deregister(self.lease.id);
        }
    }

    /// Reports how the attempt ended: an event in the job's span, and the
    /// metrics hook.
    pub fn report(&self, outcome: JobOutcome, error: Option<&str>) {
        let _entered = self.span.enter();
        match (outcome, error) {
            (JobOutcome::Failed, error) => tracing::warn!(%outcome, error, "job failed for good"),
            (JobOutcome::Retrying, error) => {
                tracing::info!(%outcome, error, retry_in = ?self.retry_delay(), "job attempt failed")
            }
            (JobOutcome::LeaseLost, _) => {
                tracing::warn!(%outcome, "job was taken over by another runner")
            }
            (outcome, _) => tracing::debug!(%outcome, "job finished"),
        }
        if let Some(metrics) = &self.shared.metrics {
            metrics.job_finished(&JobReport {
                id: self.lease.id,
                name: &self.name,
                channel_name: &self.channel_name,
                attempt: self.number,
                outcome,
                run_time: self.started.elapsed(),
            });
        }
    }

    /// The wait before the next attempt if this one fails.
    pub fn retry_delay(&self) -> Duration {
        retry_delay(self.retry_backoff, self.number)
    }
}
