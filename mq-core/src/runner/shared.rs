//! State shared by a runner's tasks and the attempts it hands out.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use time::OffsetDateTime;
use uuid::Uuid;

use super::attempt::Attempt;
use crate::CurrentJob;
use crate::activity::{ActivityTally, MinuteCount};
use crate::backend::{Backend, ClaimTarget, ClaimedJob, JobLease};
use crate::error::Result;
use crate::registry::RegistryDispatch;
use crate::retry::RetryPolicy;
use crate::runner::report::{JobOutcome, RunnerMetrics};
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
    /// Schedule leases last this long (see `scheduler.rs`).
    pub schedule_lease: Duration,
    /// Schedules no runner declared for this long are deleted.
    pub schedule_prune_after: Duration,
    /// This runner declares and fires its registry's schedules.
    pub run_schedules: bool,
    /// Limits this runner sets as it starts.
    pub channel_limits: Vec<crate::limits::ChannelLimit>,
    /// Vacuum after this many claimed jobs (at most every
    /// [`VACUUM_MIN_INTERVAL`]); `None` leaves it to autovacuum.
    pub vacuum_every: Option<u64>,
    /// Completed jobs are kept (state completed) instead of deleted.
    pub keep_completed: bool,
    /// The runner's name in its reports.
    pub name: String,
    /// How often the runner reports; `None` for never.
    pub activity_interval: Option<Duration>,
    /// How long reported minutes are kept.
    pub activity_retention: Duration,
}

/// The least time between two vacuums started by one runner.
pub(crate) const VACUUM_MIN_INTERVAL: Duration = Duration::from_secs(2);

/// What the claim loop reacts to besides wake-ups and its timer.
#[derive(Debug)]
pub(crate) enum LoopEvent {
    /// An attempt gave up its concurrency slot.
    SlotFreed,
    /// Completing an ordered job made its successor runnable: it is in
    /// this channel, after the completed job in the ready queue.
    Unblocked(ClaimTarget),
    /// A schedule run that the claim loop started came back.
    Scheduled(super::claim_loop::ScheduleRun),
    /// A claim over all channels that the claim loop started came back.
    FullClaimed(super::claim_loop::FullClaim),
    /// The outcome task wrote how attempts of jobs of these channel names
    /// ended: their limits, if any, may have room again.
    Settled(Vec<String>),
    /// Stop claiming.
    Stop,
}

/// Work for the outcome task, which writes how attempts ended.
pub(crate) enum Outcome {
    /// The job completed; `ack` hears whether the completion is durable.
    Complete {
        attempt: Arc<Attempt>,
        ack: oneshot::Sender<Result<()>>,
    },
    /// The attempt failed with `error`.
    Fail {
        attempt: Arc<Attempt>,
        error: String,
    },
    /// The job is given back without counting the attempt; `ack`, if
    /// any, hears whether that was recorded (a snooze waits for it).
    Release {
        attempt: Arc<Attempt>,
        delay: Duration,
        ack: Option<oneshot::Sender<Result<()>>>,
    },
    /// The job was completed in the caller's transaction and its code has
    /// returned: find out whether that transaction committed.
    CheckCompletion { attempt: Arc<Attempt> },
    /// Nothing to write: look again whether the task may end.
    Wake,
}

pub(crate) struct RunnerShared {
    pub backend: Arc<dyn Backend>,
    pub spawner: Arc<dyn Spawner>,
    pub config: RunnerConfig,
    pub dispatch: Dispatch,
    pub metrics: Option<Arc<dyn RunnerMetrics>>,
    /// Every attempt not yet deregistered, by lease (a job's id alone is
    /// not enough: the same runner may claim a job again while user code
    /// still holds an attempt whose lease was lost).
    attempts: Mutex<HashMap<JobLease, Arc<Attempt>>>,
    /// How many attempts take a concurrency slot (see
    /// [`AttemptState::takes_slot`](super::attempt::AttemptState::takes_slot)),
    /// kept by the attempts' transitions.
    slots: AtomicUsize,
    /// A vacuum started by this runner is running.
    pub vacuuming: AtomicBool,
    /// The attempts that ended since the last report (`activity.rs`).
    tally: Mutex<ActivityTally>,
    idle_waiters: Mutex<Vec<oneshot::Sender<()>>>,
    stop_waiters: Mutex<Vec<oneshot::Sender<()>>>,
    stopping: AtomicBool,
    claim_loop_ended: AtomicBool,
    events: mpsc::UnboundedSender<LoopEvent>,
    outcomes: mpsc::UnboundedSender<Outcome>,
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
            attempts: Mutex::new(HashMap::new()),
            slots: AtomicUsize::new(0),
            vacuuming: AtomicBool::new(false),
            tally: Mutex::new(ActivityTally::default()),
            idle_waiters: Mutex::new(Vec::new()),
            stop_waiters: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            claim_loop_ended: AtomicBool::new(false),
            events,
            outcomes,
        }
    }

    /// How many attempts this runner holds (user code still running, or an
    /// outcome not yet written).
    pub fn running_count(&self) -> usize {
        lock(&self.attempts).len()
    }

    /// How many concurrency slots are taken: attempts claimed or running
    /// user code that has not completed yet. Claims fill the other slots,
    /// so the next batch is claimed while the last one's completions are in
    /// flight.
    pub fn slots_taken(&self) -> usize {
        self.slots.load(Ordering::SeqCst)
    }

    /// An attempt entered a state that takes a slot.
    pub fn slot_taken(&self) {
        self.slots.fetch_add(1, Ordering::SeqCst);
    }

    /// An attempt left the states that take a slot: the claim loop may
    /// claim again.
    pub fn slot_freed(&self) {
        self.slots.fetch_sub(1, Ordering::SeqCst);
        self.event(LoopEvent::SlotFreed);
    }

    /// Tells the attempt of job `id` that this runner holds, if any, that
    /// it was cancelled.
    pub fn cancel(&self, id: Uuid) {
        let attempt = lock(&self.attempts)
            .values()
            .find(|attempt| attempt.lease.id == id)
            .cloned();
        if let Some(attempt) = attempt {
            tracing::debug!(job = %id, "the running job was cancelled");
            attempt.cancel.fire();
        }
    }

    /// Counts an attempt's end for the next report.
    pub fn tally(&self, channel_name: &str, outcome: JobOutcome) {
        if self.config.activity_interval.is_some() {
            lock(&self.tally).record(OffsetDateTime::now_utc(), channel_name, outcome);
        }
    }

    /// Takes the counts for a report.
    pub fn take_tally(&self) -> Vec<MinuteCount> {
        lock(&self.tally).take()
    }

    /// Puts back the counts of a report that failed.
    pub fn restore_tally(&self, counts: Vec<MinuteCount>, oldest: OffsetDateTime) {
        lock(&self.tally).restore(counts, oldest);
    }

    /// The attempts whose leases the keep-alive task renews.
    pub fn kept_alive(&self) -> Vec<Arc<Attempt>> {
        lock(&self.attempts)
            .values()
            .filter(|attempt| attempt.state().kept_alive())
            .cloned()
            .collect()
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Stops claiming. Attempts in hand go on to their end.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.event(LoopEvent::Stop);
        for waiter in lock(&self.stop_waiters).drain(..) {
            let _ = waiter.send(());
        }
    }

    /// Resolves when the runner is told to stop (at once if it was).
    pub fn stopped(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        // Checked under the lock `stop` drains, so no stop is missed.
        let mut waiters = lock(&self.stop_waiters);
        if self.is_stopping() {
            let _ = tx.send(());
        } else {
            waiters.push(tx);
        }
        rx
    }

    /// The claim loop has ended: no attempt will be added any more.
    pub fn claim_loop_ended(&self) {
        self.claim_loop_ended.store(true, Ordering::SeqCst);
        self.send(Outcome::Wake);
    }

    /// Whether the runner's background tasks may end: the claim loop has
    /// ended and every attempt has been deregistered.
    pub fn is_done(&self) -> bool {
        self.claim_loop_ended.load(Ordering::SeqCst) && self.running_count() == 0
    }

    pub fn event(&self, event: LoopEvent) {
        let _ = self.events.unbounded_send(event);
    }

    /// Queues work for the outcome task. The task lives until every
    /// attempt is deregistered, so this cannot be lost while an attempt is
    /// registered; if the runtime itself is gone, the lease lapses and the
    /// job runs again.
    pub fn send(&self, outcome: Outcome) {
        let _ = self.outcomes.unbounded_send(outcome);
    }

    /// A future that resolves once no attempt is held.
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

    /// Registers a claimed job as an attempt of this runner.
    pub fn register(self: &Arc<Self>, job: &ClaimedJob) -> Arc<Attempt> {
        let span = tracing::info_span!(
            "mq.job",
            job.id = %job.id,
            job.name = %job.name,
            job.channel = %job.channel_name,
            job.attempt = job.attempt,
        );
        // Before anything enters the span: its parent is fixed then.
        #[cfg(feature = "otel")]
        crate::otel::continue_trace(&span, job.trace_context.as_deref());
        let mut attempt = Attempt::new(
            self.clone(),
            span,
            job.lease(),
            job.attempt,
            job.name.clone(),
            job.channel_name.clone(),
            job.channel_args.clone(),
            job.ordered,
            RetryPolicy {
                backoff: job.retry_backoff,
                backoff_max: job.retry_backoff_max,
                jitter: job.retry_jitter,
            },
            job.ready_seq,
        );
        attempt.timeout = job.timeout;
        let attempt = Arc::new(attempt);
        // Claimed: it takes a slot until it leaves that state.
        self.slot_taken();
        let held = {
            let mut attempts = lock(&self.attempts);
            attempts.insert(attempt.lease, attempt.clone());
            attempts.len()
        };
        if let Some(metrics) = &self.metrics {
            metrics.jobs_running(held);
        }
        attempt
    }

    /// Forgets a finished attempt and wakes whoever waits for the runner to
    /// go idle, or for its tasks to end.
    pub fn deregister(&self, attempt: &Arc<Attempt>) {
        let held = {
            let mut attempts = lock(&self.attempts);
            if attempts
                .get(&attempt.lease)
                .is_some_and(|registered| Arc::ptr_eq(registered, attempt))
            {
                attempts.remove(&attempt.lease);
            }
            attempts.len()
        };
        if let Some(metrics) = &self.metrics {
            metrics.jobs_running(held);
        }
        if held == 0 {
            for waiter in lock(&self.idle_waiters).drain(..) {
                let _ = waiter.send(());
            }
            self.send(Outcome::Wake);
        }
    }
}
