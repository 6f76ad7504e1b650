//! The claim loop: when to claim, how many, and what to wait for.
//!
//! Each turn runs the time-driven transitions when they are due
//! ([`ClaimLoop::schedule`]), claims when slots are free and work may be
//! waiting ([`ClaimLoop::claim`]), hands the jobs out
//! ([`ClaimLoop::dispatch`]), then waits for whatever comes first: a
//! notification, a freed slot, the next due time or the poll interval
//! ([`ClaimLoop::wait`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::channel::mpsc;
use futures::stream::{BoxStream, Fuse};
use futures::{FutureExt, StreamExt};

use super::attempt::Ending;
use super::shared::{Dispatch, LoopEvent, RunnerShared, VACUUM_MIN_INTERVAL};
use crate::backend::{
    ChannelKey, ClaimedJob, JobClaimParams, JobScheduleParams, JobVacuumParams, Wakeup,
    claim_cursor,
};

/// How often runners settle ordered channels left blocked by transactions
/// that could not settle them themselves (see
/// [`JobScheduleParams::settle_ordered`]), besides when asked to.
const SETTLE_EVERY: Duration = Duration::from_secs(30);

/// The claim loop's state between turns.
struct ClaimLoop {
    shared: Arc<RunnerShared>,
    wakeups: Fuse<BoxStream<'static, Wakeup>>,
    events: mpsc::UnboundedReceiver<LoopEvent>,
    /// Claim from where the last claim stopped, for fairness.
    cursor: Option<ChannelKey>,
    /// Something may be ready: a wake-up, the poll timer, or a full batch.
    may_have_work: bool,
    /// When to run `job_schedule` next.
    schedule_due: Instant,
    /// When to settle ordered channels next.
    settle_due: Instant,
    /// Consecutive backend errors, for backing off.
    failures: u32,
    /// Jobs claimed since the last vacuum.
    claimed_since_vacuum: u64,
    /// When this runner last started a vacuum.
    last_vacuum: Instant,
    /// A Stop event arrived (or every sender is gone).
    stopped: bool,
}

/// Backs off from repeated backend errors: 100 ms doubling up to 5 s.
fn error_backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    (Duration::from_millis(100) * 2u32.pow(exp)).min(Duration::from_secs(5))
}

fn wants(channel_names: Option<&[String]>, channel_name: Option<&str>) -> bool {
    match (channel_names, channel_name) {
        (Some(names), Some(name)) => names.iter().any(|n| n == name),
        _ => true,
    }
}

pub(crate) async fn run(
    shared: Arc<RunnerShared>,
    wakeups: BoxStream<'static, Wakeup>,
    events: mpsc::UnboundedReceiver<LoopEvent>,
) {
    tracing::debug!(config = ?shared.config, "job runner started");
    let now = Instant::now();
    let mut state = ClaimLoop {
        shared: shared.clone(),
        wakeups: wakeups.fuse(),
        events,
        cursor: None,
        may_have_work: true,
        schedule_due: now,
        settle_due: now + SETTLE_EVERY,
        failures: 0,
        claimed_since_vacuum: 0,
        last_vacuum: now,
        stopped: false,
    };
    while !state.is_stopping() {
        state.schedule().await;
        let wait = state.claim().await;
        if wait == Some(Duration::ZERO) {
            continue;
        }
        state.wait(wait).await;
    }
    tracing::debug!("job runner stopped claiming");
    shared.claim_loop_ended();
}

impl ClaimLoop {
    fn is_stopping(&self) -> bool {
        self.stopped || self.shared.is_stopping()
    }

    /// Runs the time-driven transitions when they are due.
    async fn schedule(&mut self) {
        let now = Instant::now();
        if now < self.schedule_due {
            return;
        }
        let settle_ordered = now >= self.settle_due;
        let config = &self.shared.config;
        match self
            .shared
            .backend
            .job_schedule(JobScheduleParams {
                now: None,
                settle_ordered,
            })
            .await
        {
            Ok(result) => {
                self.failures = 0;
                if settle_ordered {
                    self.settle_due = Instant::now() + SETTLE_EVERY;
                }
                if result.made_ready > 0 || result.rescued > 0 || result.unblocked > 0 {
                    self.may_have_work = true;
                }
                let next = result
                    .next_due_in
                    .map_or(config.poll_interval, |due| due.min(config.poll_interval));
                self.schedule_due = Instant::now() + next;
            }
            Err(error) => {
                self.failures += 1;
                tracing::warn!(%error, "job_schedule failed");
                self.schedule_due = Instant::now() + error_backoff(self.failures);
            }
        }
    }

    /// Claims when slots are free and work may be waiting. Returns how
    /// long to wait before the next turn at most: zero to go again at once
    /// (a full batch suggests more is ready), `None` for the poll interval.
    async fn claim(&mut self) -> Option<Duration> {
        let config = &self.shared.config;
        let taken = self.shared.slots_taken();
        if !self.may_have_work || taken >= config.min_concurrency {
            return None;
        }
        let limit = config.max_concurrency - taken;
        let started = Instant::now();
        let claimed = self
            .shared
            .backend
            .job_claim(JobClaimParams {
                channel_names: config.channel_names.as_deref(),
                limit: u32::try_from(limit).unwrap_or(u32::MAX),
                lease: config.lease,
                after: self.cursor.as_ref(),
                now: None,
            })
            .await;
        let jobs = match claimed {
            Ok(jobs) => jobs,
            Err(error) => {
                self.failures += 1;
                tracing::warn!(%error, "job_claim failed");
                return Some(error_backoff(self.failures));
            }
        };
        self.failures = 0;
        // A full batch suggests more is ready; a short one that the queue
        // is drained until something wakes us.
        self.may_have_work = jobs.len() >= limit;
        if let Some(cursor) = claim_cursor(self.cursor.as_ref(), &jobs) {
            self.cursor = Some(cursor);
        }
        let latency = started.elapsed();
        if !jobs.is_empty() {
            tracing::debug!(claimed = jobs.len(), limit, ?latency, "claimed jobs");
        }
        if let Some(metrics) = &self.shared.metrics {
            metrics.jobs_claimed(jobs.len(), latency);
        }
        self.claimed_since_vacuum += jobs.len() as u64;
        self.maybe_vacuum();
        self.dispatch(jobs);
        self.may_have_work.then_some(Duration::ZERO)
    }

    /// Hands claimed jobs to user code; or, if the runner was stopped while
    /// the claim was in flight, gives them back at once (the attempts do
    /// not count), so that stopping never strands a job until its lease
    /// lapses.
    fn dispatch(&mut self, jobs: Vec<ClaimedJob>) {
        let shared = &self.shared;
        if shared.is_stopping() {
            for job in jobs {
                shared
                    .register(&job)
                    .end(|| Ending::Released(Duration::ZERO));
            }
            return;
        }
        for job in jobs {
            let attempt = shared.register(&job);
            let current = crate::CurrentJob::new(attempt, job.payload_json, job.payload_bytes);
            match &shared.dispatch {
                Dispatch::Callback(run) => run(current),
                Dispatch::Registry(registry) => registry.dispatch(
                    shared.spawner.as_ref(),
                    current,
                    shared.config.unknown_job_delay,
                ),
            }
        }
    }

    /// Waits for a notification, an event from the runner, the next due
    /// time or `wait` (the poll interval by default), then takes everything
    /// else already waiting so that a burst costs one claim, not one each.
    async fn wait(&mut self, wait: Option<Duration>) {
        let wait = wait.unwrap_or(self.shared.config.poll_interval);
        let until_schedule = self.schedule_due.saturating_duration_since(Instant::now());
        let mut timer = self.shared.spawner.sleep(until_schedule.min(wait)).fuse();
        futures::select_biased! {
            event = self.events.next() => self.on_event(event),
            wakeup = self.wakeups.next() => match wakeup {
                Some(wakeup) => self.on_wakeup(wakeup),
                // The backend stopped notifying: polling carries on alone.
                None => self.wakeups = futures::stream::pending().boxed().fuse(),
            },
            () = timer => self.may_have_work = true,
        }
        while !self.stopped
            && let Some(event) = self.events.next().now_or_never()
        {
            self.on_event(event);
        }
        while let Some(Some(wakeup)) = self.wakeups.next().now_or_never() {
            self.on_wakeup(wakeup);
        }
    }

    fn on_event(&mut self, event: Option<LoopEvent>) {
        match event {
            Some(LoopEvent::SlotFreed) => {}
            Some(LoopEvent::MoreWork) => self.may_have_work = true,
            Some(LoopEvent::Stop) | None => self.stopped = true,
        }
    }

    fn on_wakeup(&mut self, wakeup: Wakeup) {
        let names = self.shared.config.channel_names.as_deref();
        match wakeup {
            Wakeup::Ready { channel_name } => {
                if wants(names, channel_name.as_deref()) {
                    self.may_have_work = true;
                }
            }
            Wakeup::Scheduled { channel_name } => {
                if wants(names, channel_name.as_deref()) {
                    self.schedule_due = Instant::now();
                }
            }
            Wakeup::SettleOrdered => {
                self.schedule_due = Instant::now();
                self.settle_due = Instant::now();
            }
            Wakeup::Resync => {
                self.may_have_work = true;
                self.schedule_due = Instant::now();
                self.settle_due = Instant::now();
            }
        }
    }

    /// Starts a vacuum in the background when enough jobs were claimed
    /// since the last one, unless one is still running.
    fn maybe_vacuum(&mut self) {
        let Some(every) = self.shared.config.vacuum_every else {
            return;
        };
        if self.claimed_since_vacuum < every || self.last_vacuum.elapsed() < VACUUM_MIN_INTERVAL {
            return;
        }
        if self.shared.vacuuming.swap(true, Ordering::SeqCst) {
            return;
        }
        self.claimed_since_vacuum = 0;
        self.last_vacuum = Instant::now();
        let shared = self.shared.clone();
        let spawner = shared.spawner.clone();
        spawner.spawn(
            async move {
                match shared.backend.job_vacuum(JobVacuumParams::default()).await {
                    Ok(ran) => tracing::debug!(ran, "vacuumed the jobs table"),
                    Err(error) => tracing::warn!(%error, "job_vacuum failed"),
                }
                shared.vacuuming.store(false, Ordering::SeqCst);
            }
            .boxed(),
        );
    }
}
