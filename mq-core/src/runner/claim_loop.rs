//! The claim loop: when to claim, how many, and what to wait for.
//!
//! Each turn runs the time-driven transitions when they are due
//! ([`ClaimLoop::schedule`]), claims when slots are free and work may be
//! waiting ([`ClaimLoop::claim`]), hands the jobs out
//! ([`ClaimLoop::dispatch`]), then waits for whatever comes first: a
//! notification, a freed slot, the next due time or the poll interval
//! ([`ClaimLoop::wait`]).
//!
//! Two kinds of claim: targeted claims from the channels the runner knows
//! to have work, from where their unclaimed jobs begin
//! ([`HotChannels`]), which cost one index seek per channel whatever the
//! table holds; and claims over all channels, which find everything else
//! but walk the dead index entries that a held-back xmin horizon leaves.
//! The second kind runs when something says work may be anywhere (the
//! poll timer, a wake-up without a place, a schedule run that made jobs
//! ready), spaced by its own cost ([`full_claim_spacing`]).
//!
//! Claims over all channels and schedule runs are the statements that a
//! held-back xmin horizon slows down by orders of magnitude. Schedule runs
//! never run on the loop: each is a task of its own whose result comes
//! back as a [`LoopEvent`]. Claims over all channels do too once the last
//! one took more than [`SLOW_FULL_CLAIM`] times a targeted claim, and the
//! loop goes on with targeted claims meanwhile; such a claim in flight
//! holds the slots it may fill (half of those free, rounded up), so the
//! runner never holds more jobs than `max_concurrency`. While they cost
//! about what targeted claims cost, the loop waits for them as for any
//! claim and lets them fill every free slot: beside the loop, they cut the
//! batches of a drain in half. When the loop stops, it
//! waits for both to come back, so that the jobs such a claim took are
//! released at once rather than left to their lease.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::stream::{BoxStream, Fuse};
use futures::{FutureExt, StreamExt};

use time::OffsetDateTime;

use super::attempt::Ending;
use super::hot_channels::HotChannels;
use super::limited::{LimitedChannels, LimitedFrom};
use super::shared::{Dispatch, LoopEvent, RunnerShared, VACUUM_MIN_INTERVAL};
use crate::backend::{
    ChannelKey, ChannelLimitsParams, ClaimedJob, JobClaimLimitedParams, JobClaimParams,
    JobScheduleParams, JobScheduleResult, JobVacuumParams, Wakeup, claim_cursor,
};
use crate::error::Result;

/// How often runners settle ordered channels left blocked by transactions
/// that could not settle them themselves (see
/// [`JobScheduleParams::settle_ordered`]), besides when asked to.
const SETTLE_EVERY: Duration = Duration::from_secs(30);

/// How often, at least, a schedule run looks at every due transition
/// rather than only those due since the last run (see
/// [`JobScheduleParams::due_after`]): the longest a delayed job spawned in
/// a transaction that commits after its time waits for it.
const FULL_SCHEDULE_EVERY: Duration = Duration::from_secs(30);

/// How far back before the previous run's time a schedule run looks, for
/// transactions that commit a little after the time of what they changed.
const SCHEDULE_OVERLAP: Duration = Duration::from_secs(5);

/// How long after a claim over all channels that took `took` the next may
/// start, given that targeted claims take `targeted` (a running average):
/// `took` times how many times slower it was than a targeted claim, at
/// least 4 and at most 100. While both cost about the same (the usual
/// case, however busy the machine), claims over all channels take up to a
/// fifth of the loop's time, which keeps channels served in turn; when the
/// xmin horizon is held back, dead index entries make them hundreds of
/// times slower, and they fall to a hundredth of it while the targeted
/// claims carry the load.
pub(super) fn full_claim_spacing(took: Duration, targeted: Option<Duration>) -> Duration {
    let slower = match targeted {
        Some(targeted) if !targeted.is_zero() => took.as_secs_f64() / targeted.as_secs_f64(),
        _ => 0.0,
    };
    took.mul_f64(slower.clamp(4.0, 100.0))
}

/// How many times slower than a targeted claim the last claim over all
/// channels must have been for the next to run beside the loop.
const SLOW_FULL_CLAIM: u32 = 4;

/// How many notifications that arrive while a claim over all channels is in
/// flight are kept to apply again after it (see [`ClaimLoop::replay`]);
/// past that, the next claim over all channels finds their jobs.
const MAX_REPLAY: usize = 4096;

/// A schedule run that the claim loop started, come back.
#[derive(Debug)]
pub(crate) struct ScheduleRun {
    result: Result<JobScheduleResult>,
    started: Instant,
    settle_ordered: bool,
    /// It looked at every due transition (`due_after` was `None`).
    full: bool,
}

/// A claim over all channels that the claim loop started, come back.
#[derive(Debug)]
pub(crate) struct FullClaim {
    result: Result<Vec<ClaimedJob>>,
    /// The slots it held while in flight: its limit.
    limit: usize,
    took: Duration,
}

/// The claim loop's state between turns.
struct ClaimLoop {
    shared: Arc<RunnerShared>,
    wakeups: Fuse<BoxStream<'static, Wakeup>>,
    events: mpsc::UnboundedReceiver<LoopEvent>,
    /// Claim over all channels from where the last one stopped, for
    /// fairness.
    cursor: Option<ChannelKey>,
    /// Something may be ready anywhere: a wake-up without a place, the
    /// poll timer, or a full batch of a claim over all channels.
    full_wanted: bool,
    /// When the next claim over all channels may start.
    full_not_before: Instant,
    /// The slots held by the claim over all channels in flight, if any.
    full_in_flight: Option<usize>,
    /// How long the last claim over all channels took.
    full_took: Option<Duration>,
    /// Places notified while a claim over all channels was in flight, to
    /// apply again when it lands: its result moves a channel's start past
    /// the jobs it took, which must not hide a job that became ready
    /// behind its snapshot and was notified meanwhile.
    replay: Vec<(ChannelKey, i64)>,
    /// How long targeted claims take (a running average).
    targeted_took: Option<Duration>,
    /// The channels known to have ready work, for targeted claims.
    hot: HotChannels,
    /// The limited channels, claimed by limited claims.
    limited: LimitedChannels,
    /// When to run `job_schedule` next.
    schedule_due: Instant,
    /// A schedule run is in flight.
    schedule_in_flight: bool,
    /// Every transition due until this time was made (less an overlap).
    scheduled_until: Option<OffsetDateTime>,
    /// When the next schedule run looks at every due transition.
    full_schedule_due: Instant,
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
        full_wanted: true,
        full_not_before: now,
        full_in_flight: None,
        full_took: None,
        replay: Vec::new(),
        targeted_took: None,
        hot: HotChannels::default(),
        limited: LimitedChannels::default(),
        schedule_due: now,
        schedule_in_flight: false,
        scheduled_until: None,
        full_schedule_due: now,
        settle_due: now + SETTLE_EVERY,
        failures: 0,
        claimed_since_vacuum: 0,
        last_vacuum: now,
        stopped: false,
    };
    while !state.is_stopping() {
        state.schedule();
        let_ending_jobs_end(|| shared.slots_taken(), shared.config.min_concurrency).await;
        let wait = state.claim().await;
        if wait == Some(Duration::ZERO) {
            continue;
        }
        state.wait(wait).await;
    }
    state.land_in_flight().await;
    tracing::debug!("job runner stopped claiming");
    shared.claim_loop_ended();
}

/// Before a claim sizes itself, lets the jobs that are ending right now
/// free their slots: yields to the runtime, without a timer, for as long as
/// each yield sees the slots taken fall, while fewer than `min` are taken
/// (below that the loop claims; above it, it does not).
///
/// The loop claims as soon as fewer than the minimum run. Short jobs end
/// one after another, so it used to claim at the first slot below the
/// minimum, for the slots free at that instant, while the rest of the last
/// batch ended during the claim's round trip: a drain of jobs that do
/// nothing claimed 77 jobs at a time with the defaults (64..128) and sat
/// idle while each claim was in flight. Letting those jobs end first makes
/// the claim take about `max` minus what still runs (BENCHMARKS.md). Jobs
/// that take longer than a few yields are not waited for: the first yield
/// that frees nothing ends the wait. Each yield must free a slot, so the
/// wait ends after at most `min` yields.
async fn let_ending_jobs_end(slots_taken: impl Fn() -> usize, min: usize) {
    let mut taken = slots_taken();
    while taken > 0 && taken < min {
        yield_once().await;
        let now = slots_taken();
        if now >= taken {
            return;
        }
        taken = now;
    }
}

/// Returns to the runtime once, so that the tasks ready to run (the jobs)
/// run before this one goes on. Whatever the runtime: the waker asks for
/// this task to be polled again at once.
fn yield_once() -> impl Future<Output = ()> {
    let mut yielded = false;
    futures::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

impl ClaimLoop {
    fn is_stopping(&self) -> bool {
        self.stopped || self.shared.is_stopping()
    }

    /// Starts a schedule run (the time-driven transitions) when one is due
    /// and none is in flight; [`scheduled`](Self::scheduled) takes its
    /// result.
    fn schedule(&mut self) {
        let now = Instant::now();
        if self.schedule_in_flight || now < self.schedule_due {
            return;
        }
        let settle_ordered = now >= self.settle_due;
        let due_after = if now >= self.full_schedule_due {
            None
        } else {
            self.scheduled_until
        };
        self.schedule_in_flight = true;
        // Requests that come while it runs bring this forward.
        self.schedule_due = now + self.shared.config.poll_interval;
        let shared = self.shared.clone();
        let spawner = shared.spawner.clone();
        spawner.spawn(
            async move {
                let result = shared
                    .backend
                    .job_schedule(JobScheduleParams {
                        now: None,
                        settle_ordered,
                        due_after,
                    })
                    .await;
                shared.event(LoopEvent::Scheduled(ScheduleRun {
                    result,
                    started: now,
                    settle_ordered,
                    full: due_after.is_none(),
                }));
            }
            .boxed(),
        );
    }

    /// Counts and logs a backend error; returns how long to back off.
    fn failed(&mut self, operation: &str, error: &crate::Error) -> Duration {
        self.failures += 1;
        tracing::warn!(%error, "{operation} failed");
        error_backoff(self.failures)
    }

    /// Takes the result of a schedule run.
    fn scheduled(&mut self, run: ScheduleRun) {
        self.schedule_in_flight = false;
        let result = match run.result {
            Ok(result) => result,
            Err(error) => {
                self.schedule_due = Instant::now() + self.failed("job_schedule", &error);
                return;
            }
        };
        self.failures = 0;
        let now = Instant::now();
        // A request for a settle or a full run made while this one ran
        // stands: this run's snapshot may predate what it was for.
        if run.settle_ordered && self.settle_due <= run.started {
            self.settle_due = now + SETTLE_EVERY;
        }
        if run.full && self.full_schedule_due <= run.started {
            let took = now - run.started;
            self.full_schedule_due = now + FULL_SCHEDULE_EVERY.max(took.saturating_mul(100));
        }
        self.scheduled_until = result.due_until.map(|until| until - SCHEDULE_OVERLAP);
        if result.made_ready > 0 || result.rescued > 0 || result.unblocked > 0 {
            self.full_wanted = true;
        }
        let poll = self.shared.config.poll_interval;
        let next = result.next_due_in.map_or(poll, |due| due.min(poll));
        self.schedule_due = self.schedule_due.min(now + next);
    }

    /// Claims when slots are free and work may be waiting: the limited
    /// channels worth a claim ([`claim_limited`](Self::claim_limited)),
    /// then the ordinary claims ([`claim_unlimited`](Self::claim_unlimited)).
    /// Returns how long to wait before the next turn at most: zero to go
    /// again at once (a full batch suggests more is ready), `None` for the
    /// poll interval.
    async fn claim(&mut self) -> Option<Duration> {
        self.refresh_limits().await;
        // Limited channels first: they are claimed only when something
        // says they may have room, and the ordinary claims would otherwise
        // fill the runner from an unlimited backlog and leave them none.
        let more = self.claim_limited().await;
        let wait = self.claim_unlimited().await;
        if more {
            return Some(Duration::ZERO);
        }
        // A limited channel that knows no place waits for its claim from
        // the front to be allowed (one allowed now waits for a free slot,
        // which wakes the loop anyway).
        let front = self.limited.until_front_claim().filter(|d| !d.is_zero());
        match (wait, front) {
            (Some(wait), Some(front)) => Some(wait.min(front)),
            (wait, front) => wait.or(front),
        }
    }

    /// Reads which channels are limited, every poll interval.
    async fn refresh_limits(&mut self) {
        if !self.limited.refresh_due() {
            return;
        }
        let poll = self.shared.config.poll_interval;
        let read = self
            .shared
            .backend
            .channel_limits(ChannelLimitsParams {
                now: None,
                with_use: false,
            })
            .await;
        match read {
            Ok(limits) => self.limited.refreshed(
                limits
                    .into_iter()
                    .map(|info| info.limit.channel_name().to_owned()),
                poll,
            ),
            Err(error) => {
                let backoff = self.failed("channel_limits", &error);
                self.limited.refresh_failed(backoff.max(poll));
            }
        }
    }

    /// Claims from each limited channel worth it (see [`LimitedChannels`]),
    /// while fewer than the minimum of jobs run. Returns whether one took all it asked for:
    /// more may be waiting.
    async fn claim_limited(&mut self) -> bool {
        let shared = self.shared.clone();
        let config = &shared.config;
        let names = config.channel_names.as_deref();
        let mut more = false;
        for (channel_name, from) in self.limited.to_claim(|name| wants(names, Some(name))) {
            // Below the minimum, as the ordinary claims: each limited
            // claim is a transaction of its own, and claiming whenever a
            // slot is free made batches of a few jobs (a drain limited to
            // 1,000 ran at a sixth of the unlimited one). Going first is
            // what keeps an unlimited backlog from starving the channel.
            if shared.slots_taken() >= config.min_concurrency {
                break;
            }
            let taken = shared.slots_taken() + self.full_in_flight.unwrap_or(0);
            let free = config.max_concurrency.saturating_sub(taken);
            if free == 0 {
                break;
            }
            let (after, targets) = match &from {
                LimitedFrom::Front { after } => (after.as_deref(), None),
                LimitedFrom::Places(targets) => (None, Some(targets.as_slice())),
            };
            let started = Instant::now();
            let claimed = shared
                .backend
                .job_claim_limited(JobClaimLimitedParams {
                    channel_name: &channel_name,
                    after,
                    targets,
                    limit: u32::try_from(free).unwrap_or(u32::MAX),
                    lease: config.lease,
                    now: None,
                })
                .await;
            match claimed {
                Ok(jobs) => {
                    self.failures = 0;
                    let took = started.elapsed();
                    self.limited
                        .claimed(&channel_name, &from, &jobs, free, took);
                    more |= jobs.len() >= free;
                    self.claimed(jobs, free, took, false);
                }
                Err(error) => {
                    self.failed("job_claim_limited", &error);
                    self.limited.failed(&channel_name);
                }
            }
        }
        more
    }

    /// The ordinary claims: starts a claim over all channels when that is
    /// wanted and its spacing allows, and claims from the channels known
    /// to have work.
    async fn claim_unlimited(&mut self) -> Option<Duration> {
        let shared = self.shared.clone();
        let config = &shared.config;
        // Batching counts the jobs held; the bound, the slots a claim in
        // flight may fill as well.
        let taken = self.shared.slots_taken();
        if taken >= config.min_concurrency {
            return None;
        }
        if self.hot.take_overflowed() {
            self.full_wanted = true;
        }
        let reserved = self.full_in_flight.unwrap_or(0);
        let mut free = config.max_concurrency.saturating_sub(taken + reserved);
        if free == 0 {
            return None;
        }
        if self.full_wanted
            && self.full_in_flight.is_none()
            && Instant::now() >= self.full_not_before
        {
            if !self.full_claims_are_slow() {
                let claim = self.full_claim(free).await;
                let more = claim.result.as_ref().is_ok_and(|jobs| jobs.len() >= free);
                self.full_claimed(claim);
                return if more || !self.hot.is_empty() {
                    Some(Duration::ZERO)
                } else {
                    self.until_full_claim()
                };
            }
            // Leave targeted claims half the slots: a notification may
            // come while this claim is in flight, and its job should not
            // wait for it.
            let limit = free.div_ceil(2);
            self.start_full_claim(limit);
            free -= limit;
        }
        if self.hot.is_empty() || free == 0 {
            return self.until_full_claim();
        }
        let targets = self.hot.targets();
        let started = Instant::now();
        let claimed = shared
            .backend
            .job_claim(JobClaimParams {
                channel_names: config.channel_names.as_deref(),
                limit: u32::try_from(free).unwrap_or(u32::MAX),
                lease: config.lease,
                after: None,
                targets: Some(&targets),
                now: None,
            })
            .await;
        let jobs = match claimed {
            Ok(jobs) => jobs,
            Err(error) => return Some(self.failed("job_claim", &error)),
        };
        self.failures = 0;
        let latency = started.elapsed();
        self.targeted_took = Some(match self.targeted_took {
            Some(average) => average.mul_f64(0.8) + latency.mul_f64(0.2),
            None => latency,
        });
        // A full batch suggests more is ready; a short one that the
        // channels targeted are drained until something wakes us.
        let more = jobs.len() >= free;
        self.hot.claimed(Some(&targets), &jobs, more);
        self.claimed(jobs, free, latency, false);
        if more || !self.hot.is_empty() {
            Some(Duration::ZERO)
        } else {
            self.until_full_claim()
        }
    }

    /// How long until a claim over all channels may start, if one is
    /// wanted and none is in flight (one in flight wakes the loop when it
    /// lands).
    fn until_full_claim(&self) -> Option<Duration> {
        (self.full_wanted && self.full_in_flight.is_none()).then(|| {
            self.full_not_before
                .saturating_duration_since(Instant::now())
        })
    }

    /// Whether claims over all channels are slow enough to run beside
    /// the loop: the last took more than [`SLOW_FULL_CLAIM`] times what
    /// targeted claims take. Otherwise (the usual case, a drain included)
    /// the loop waits for them as for any claim, and they may fill every
    /// free slot.
    fn full_claims_are_slow(&self) -> bool {
        match (self.full_took, self.targeted_took) {
            (Some(full), Some(targeted)) => full > targeted.saturating_mul(SLOW_FULL_CLAIM),
            _ => false,
        }
    }

    /// A claim over all channels of up to `limit` jobs, which holds that
    /// many slots until [`full_claimed`](Self::full_claimed) takes its
    /// result.
    fn full_claim(&mut self, limit: usize) -> BoxFuture<'static, FullClaim> {
        self.full_in_flight = Some(limit);
        // Whatever asks for one from now on asks for the next.
        self.full_wanted = false;
        let after = self.cursor.clone();
        let shared = self.shared.clone();
        async move {
            let started = Instant::now();
            let result = shared
                .backend
                .job_claim(JobClaimParams {
                    channel_names: shared.config.channel_names.as_deref(),
                    limit: u32::try_from(limit).unwrap_or(u32::MAX),
                    lease: shared.config.lease,
                    after: after.as_ref(),
                    targets: None,
                    now: None,
                })
                .await;
            let took = started.elapsed();
            FullClaim {
                result,
                limit,
                took,
            }
        }
        .boxed()
    }

    /// Starts a claim over all channels of up to `limit` jobs beside the
    /// loop; its result comes back as [`LoopEvent::FullClaimed`].
    fn start_full_claim(&mut self, limit: usize) {
        let claim = self.full_claim(limit);
        let shared = self.shared.clone();
        self.shared.spawner.spawn(
            async move {
                let claim = claim.await;
                shared.event(LoopEvent::FullClaimed(claim));
            }
            .boxed(),
        );
    }

    /// Takes the result of a claim over all channels.
    fn full_claimed(&mut self, claim: FullClaim) {
        self.full_in_flight = None;
        let jobs = match claim.result {
            Ok(jobs) => jobs,
            Err(error) => {
                self.full_wanted = true;
                self.full_not_before = Instant::now() + self.failed("job_claim", &error);
                self.replay.clear();
                return;
            }
        };
        self.failures = 0;
        self.full_took = Some(claim.took);
        let more = jobs.len() >= claim.limit;
        self.hot.claimed(None, &jobs, more);
        for (channel, ready_seq) in self.replay.drain(..) {
            self.hot.queued(channel, ready_seq);
        }
        self.full_wanted |= more;
        self.full_not_before = Instant::now() + full_claim_spacing(claim.took, self.targeted_took);
        if let Some(cursor) = claim_cursor(self.cursor.as_ref(), &jobs) {
            self.cursor = Some(cursor);
        }
        self.claimed(jobs, claim.limit, claim.took, true);
    }

    /// What every claim does with the jobs it took: reports them, counts
    /// them towards the next vacuum, and hands them out.
    fn claimed(&mut self, jobs: Vec<ClaimedJob>, limit: usize, latency: Duration, full: bool) {
        if !jobs.is_empty() {
            tracing::debug!(claimed = jobs.len(), limit, full, ?latency, "claimed jobs");
        }
        if let Some(metrics) = &self.shared.metrics {
            metrics.jobs_claimed(jobs.len(), latency);
        }
        self.claimed_since_vacuum += jobs.len() as u64;
        self.maybe_vacuum();
        self.dispatch(jobs);
    }

    /// Waits for the schedule run and the claim over all channels in
    /// flight, if any, to come back, after the loop stopped: the jobs such
    /// a claim took are then given back at once by
    /// [`dispatch`](Self::dispatch).
    async fn land_in_flight(&mut self) {
        while self.schedule_in_flight || self.full_in_flight.is_some() {
            match self.events.next().await {
                Some(event) => self.on_event(Some(event)),
                None => break,
            }
        }
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
            let current = crate::CurrentJob::new(attempt, job.payload_json, job.payload_bytes)
                .with_trace_context(job.trace_context)
                .with_tick(job.tick);
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
            () = timer => {
                self.full_wanted = true;
                self.limited.all_due();
            }
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
            Some(LoopEvent::Unblocked(target)) => {
                self.queued(target.channel, target.from_ready_seq);
            }
            Some(LoopEvent::Scheduled(run)) => self.scheduled(run),
            Some(LoopEvent::FullClaimed(claim)) => self.full_claimed(claim),
            Some(LoopEvent::Settled(channel_names)) => {
                for name in &channel_names {
                    self.limited.due(name);
                }
            }
            Some(LoopEvent::Stop) | None => self.stopped = true,
        }
    }

    /// A job became ready at `ready_seq` on `channel`: a limited channel's
    /// place is kept with its limit's claims.
    fn queued(&mut self, channel: ChannelKey, ready_seq: i64) {
        if self.limited.queued(&channel, ready_seq) {
            return;
        }
        if self.full_in_flight.is_some() {
            if self.replay.len() < MAX_REPLAY {
                self.replay.push((channel.clone(), ready_seq));
            } else {
                self.full_wanted = true;
            }
        }
        self.hot.queued(channel, ready_seq);
    }

    fn on_wakeup(&mut self, wakeup: Wakeup) {
        let names = self.shared.config.channel_names.as_deref();
        match wakeup {
            Wakeup::Ready { channel_name } => {
                if wants(names, channel_name.as_deref()) {
                    self.full_wanted = true;
                }
                match channel_name {
                    Some(name) => self.limited.due_anywhere(&name),
                    None => self.limited.all_due(),
                }
            }
            Wakeup::Queued { channel, ready_seq } => {
                if wants(names, Some(&channel.name)) {
                    self.queued(channel, ready_seq);
                }
            }
            Wakeup::Scheduled { channel_name } => {
                if wants(names, channel_name.as_deref()) {
                    self.schedule_due = Instant::now();
                }
            }
            Wakeup::Cancelled { id } => self.shared.cancel(id),
            Wakeup::SettleOrdered => {
                self.schedule_due = Instant::now();
                self.settle_due = Instant::now();
            }
            Wakeup::Resync => {
                self.limited.refresh_now();
                self.full_wanted = true;
                self.full_not_before = Instant::now();
                self.scheduled_until = None;
                self.full_schedule_due = Instant::now();
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{let_ending_jobs_end, yield_once};

    /// With `taken` slots taken and a minimum of 64, starts `ending` jobs
    /// that each free a slot after yielding as many times as their number
    /// (jobs that end one after another), waits as a claim would, and
    /// returns the slots taken, to read after the wait.
    async fn slots_after_the_wait(taken: usize, ending: usize) -> Arc<AtomicUsize> {
        let taken = Arc::new(AtomicUsize::new(taken));
        for job in 0..ending {
            let taken = taken.clone();
            tokio::spawn(async move {
                for _ in 0..job {
                    yield_once().await;
                }
                taken.fetch_sub(1, Ordering::SeqCst);
            });
        }
        let_ending_jobs_end(|| taken.load(Ordering::SeqCst), 64).await;
        taken
    }

    #[tokio::test]
    async fn a_claim_waits_for_the_jobs_ending_now() {
        let taken = slots_after_the_wait(10, 10).await;
        assert_eq!(taken.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_claim_does_not_wait_for_jobs_that_keep_running() {
        // Two jobs end; eight run on, and the wait ends at the first yield
        // that frees nothing.
        let taken = slots_after_the_wait(10, 2).await;
        assert_eq!(taken.load(Ordering::SeqCst), 8);
    }

    #[tokio::test]
    async fn at_the_minimum_a_claim_waits_for_nothing() {
        let taken = slots_after_the_wait(64, 10).await;
        assert_eq!(taken.load(Ordering::SeqCst), 64, "no job ran meanwhile");
        yield_once().await;
        assert!(
            taken.load(Ordering::SeqCst) < 64,
            "the jobs run once it yields"
        );
    }
}
