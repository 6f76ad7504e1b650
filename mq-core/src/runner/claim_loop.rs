//! The claim loop: when to claim, how many, and what to wait for.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::channel::mpsc;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};

use std::sync::atomic::Ordering;

use super::shared::{Dispatch, LoopEvent, RunnerShared, VACUUM_MIN_INTERVAL};
use crate::backend::{
    ChannelKey, ClaimedJob, JobClaimParams, JobScheduleParams, Wakeup, claim_cursor,
};

/// What the loop knows about the queue between iterations.
struct LoopState {
    /// Claim from where the last claim stopped, for fairness.
    cursor: Option<ChannelKey>,
    /// Something may be ready: a wake-up, the poll timer, or a full batch.
    may_have_work: bool,
    /// When to run `job_schedule` next.
    schedule_due: Instant,
    /// Consecutive backend errors, for backing off.
    failures: u32,
    /// Jobs claimed since the last vacuum.
    claimed_since_vacuum: u64,
    /// When this runner last started a vacuum.
    last_vacuum: Instant,
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

impl LoopState {
    fn on_wakeup(&mut self, shared: &RunnerShared, wakeup: Wakeup) {
        let names = shared.config.channel_names.as_deref();
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
            Wakeup::Resync => {
                self.may_have_work = true;
                self.schedule_due = Instant::now();
            }
        }
    }

    /// Returns false when the loop must end.
    fn on_event(&mut self, event: Option<LoopEvent>) -> bool {
        match event {
            Some(LoopEvent::JobFinished) => true,
            Some(LoopEvent::MoreWork) => {
                self.may_have_work = true;
                true
            }
            Some(LoopEvent::Stop) | None => false,
        }
    }
}

pub(crate) async fn run(
    shared: Arc<RunnerShared>,
    wakeups: BoxStream<'static, Wakeup>,
    mut events: mpsc::UnboundedReceiver<LoopEvent>,
) {
    let config = shared.config.clone();
    let mut wakeups = wakeups.fuse();
    let mut state = LoopState {
        cursor: None,
        may_have_work: true,
        schedule_due: Instant::now(),
        failures: 0,
        claimed_since_vacuum: 0,
        last_vacuum: Instant::now(),
    };
    tracing::debug!(?config, "job runner started");
    while !shared.is_stopping() {
        let mut wait = config.poll_interval;

        if Instant::now() >= state.schedule_due {
            match shared
                .backend
                .job_schedule(JobScheduleParams::default())
                .await
            {
                Ok(result) => {
                    state.failures = 0;
                    if result.made_ready > 0 || result.rescued > 0 {
                        state.may_have_work = true;
                    }
                    let next = result
                        .next_due_in
                        .map_or(config.poll_interval, |due| due.min(config.poll_interval));
                    state.schedule_due = Instant::now() + next;
                }
                Err(error) => {
                    state.failures += 1;
                    tracing::warn!(%error, "job_schedule failed");
                    state.schedule_due = Instant::now() + error_backoff(state.failures);
                }
            }
        }

        let running = shared.busy_count();
        if state.may_have_work && running < config.min_concurrency {
            let limit = config.max_concurrency - running;
            let claim_started = Instant::now();
            let claimed = shared
                .backend
                .job_claim(JobClaimParams {
                    channel_names: config.channel_names.as_deref(),
                    limit: u32::try_from(limit).unwrap_or(u32::MAX),
                    lease: config.lease,
                    after: state.cursor.as_ref(),
                    now: None,
                })
                .await;
            match claimed {
                Ok(jobs) => {
                    state.failures = 0;
                    // A full batch suggests more is ready; a short one that
                    // the queue is drained until something wakes us.
                    state.may_have_work = jobs.len() >= limit;
                    if let Some(cursor) = claim_cursor(state.cursor.as_ref(), &jobs) {
                        state.cursor = Some(cursor);
                    }
                    let latency = claim_started.elapsed();
                    if !jobs.is_empty() {
                        tracing::debug!(claimed = jobs.len(), limit, ?latency, "claimed jobs");
                    }
                    if let Some(metrics) = &shared.metrics {
                        metrics.jobs_claimed(jobs.len(), latency);
                    }
                    state.claimed_since_vacuum += jobs.len() as u64;
                    maybe_vacuum(&shared, &mut state);
                    for job in jobs {
                        dispatch(&shared, job);
                    }
                    if state.may_have_work {
                        continue;
                    }
                }
                Err(error) => {
                    state.failures += 1;
                    tracing::warn!(%error, "job_claim failed");
                    wait = error_backoff(state.failures);
                }
            }
        }

        let until_schedule = state.schedule_due.saturating_duration_since(Instant::now());
        let mut timer = shared.spawner.sleep(until_schedule.min(wait)).fuse();
        futures::select_biased! {
            event = events.next() => {
                if !state.on_event(event) {
                    break;
                }
            }
            wakeup = wakeups.next() => match wakeup {
                Some(wakeup) => state.on_wakeup(&shared, wakeup),
                // The backend stopped notifying: polling carries on alone.
                None => wakeups = futures::stream::pending().boxed().fuse(),
            },
            () = timer => state.may_have_work = true,
        }
        // Take everything else that is already waiting, so that a burst of
        // notifications or finished jobs costs one claim, not one each.
        let mut stop = false;
        while let Some(event) = events.next().now_or_never() {
            stop |= !state.on_event(event);
            if stop {
                break;
            }
        }
        if stop {
            break;
        }
        while let Some(Some(wakeup)) = wakeups.next().now_or_never() {
            state.on_wakeup(&shared, wakeup);
        }
    }
    tracing::debug!("job runner stopped claiming");
}

/// Starts a vacuum in the background when enough jobs were claimed since
/// the last one, unless one is still running.
fn maybe_vacuum(shared: &Arc<RunnerShared>, state: &mut LoopState) {
    let Some(every) = shared.config.vacuum_every else {
        return;
    };
    if state.claimed_since_vacuum < every || state.last_vacuum.elapsed() < VACUUM_MIN_INTERVAL {
        return;
    }
    if shared.vacuuming.swap(true, Ordering::SeqCst) {
        return;
    }
    state.claimed_since_vacuum = 0;
    state.last_vacuum = Instant::now();
    let shared = shared.clone();
    let spawner = shared.spawner.clone();
    spawner.spawn(
        async move {
            match shared.backend.job_vacuum().await {
                Ok(ran) => tracing::debug!(ran, "vacuumed the jobs table"),
                Err(error) => tracing::warn!(%error, "job_vacuum failed"),
            }
            shared.vacuuming.store(false, Ordering::SeqCst);
        }
        .boxed(),
    );
}

fn dispatch(shared: &Arc<RunnerShared>, job: ClaimedJob) {
    let current = shared.start(job);
    match &shared.dispatch {
        Dispatch::Callback(run) => run(current),
        Dispatch::Registry(registry) => registry.dispatch(
            shared.spawner.as_ref(),
            current,
            shared.config.unknown_job_delay,
        ),
    }
}
