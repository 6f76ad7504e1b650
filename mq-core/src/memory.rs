//! An in-memory [`Backend`] with the semantics of the PostgreSQL drivers.
//!
//! Use it to test jobs without a database: spawn into it, run a runner on
//! it, and inspect job states. It passes the same
//! [`conformance`](crate::conformance) suite as the drivers. It is not
//! durable and not shared between processes, so it is no substitute for a
//! database in production.
//!
//! With the `mq` crate, runners are built on `&backend` as on a pool; with
//! `mq-core` alone, give the runner the backend and the runtime:
//!
//! ```
//! use std::sync::Arc;
//! use mq_core::memory::MemoryBackend;
//! use mq_core::{Backend, BackendExt, JobBuilder, JobRunnerOptions, JobState};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> mq_core::Result<()> {
//! let backend = MemoryBackend::new();
//! let id = JobBuilder::new("greet").set_json("world")?.spawn(&backend).await?;
//! assert_eq!(backend.job_state(id).await?, Some(JobState::Ready));
//!
//! let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
//! let shared: Arc<dyn Backend> = Arc::new(backend.clone());
//! let _runner = JobRunnerOptions::new(shared, move |mut job| {
//!     let done = done.clone();
//!     tokio::spawn(async move {
//!         job.complete().await.unwrap();
//!         done.send(job.id()).unwrap();
//!     });
//! })
//! .set_spawner(Arc::new(mq_runtime_tokio::TokioSpawner::new()))
//! .run()
//! .await?;
//! assert_eq!(finished.recv().await, Some(id));
//! assert!(backend.is_empty());
//! # Ok(())
//! # }
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::channel::mpsc;
use futures::stream::BoxStream;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::activity::{
    ActivityRecordParams, MinuteCount, RunnerInfo, RunnerListParams, ThroughputListParams,
};
use crate::backend::{
    Backend, CancelOutcome, ChannelKey, ChannelPause, ChannelPauseParams, ClaimTarget, ClaimedJob,
    FailedAttempt, JobCancelParams, JobCheckpointParams, JobClaimParams, JobCommitParams,
    JobCompleteParams, JobDeleteParams, JobFailOutcome, JobFailParams, JobFilter, JobGetParams,
    JobInfo, JobInsertParams, JobKeepAliveParams, JobLease, JobListParams, JobReleaseParams,
    JobRetryParams, JobScheduleParams, JobScheduleResult, JobState, JobStateCount, JobStatsParams,
    JobSummary, LeaseOutcome, ListenParams, MAX_ERROR_HISTORY, PauseAction, QueueStats, Spawned,
    Wakeup, bound_error_text,
};
use crate::builder::NewJob;
use crate::error::{Error, Result};
use crate::limits::{
    ChannelLimitParams, ChannelLimitsParams, JobClaimLimitedParams, LimitAction, LimitInfo,
};
use crate::periodic::storage::{
    ScheduleDeclareParams, ScheduleDeclared, ScheduleFireParams, ScheduleInfo, ScheduleListParams,
    ScheduleReleaseParams,
};

mod activity;
mod limits;
mod schedules;

/// An in-memory backend. Cloning it gives another handle to the same jobs.
#[derive(Clone, Default)]
pub struct MemoryBackend {
    store: Arc<Mutex<Store>>,
}

#[derive(Default)]
struct Store {
    jobs: HashMap<Uuid, StoredJob>,
    next_seq: i64,
    /// The last turn given in the ready queue.
    last_ready_turn: i64,
    listeners: Vec<mpsc::UnboundedSender<Wakeup>>,
    /// Paused channel names, with when each was paused.
    paused: BTreeMap<String, OffsetDateTime>,
    /// Periodic jobs' schedules, by name.
    schedules: BTreeMap<String, schedules::StoredSchedule>,
    /// Channel limits, by channel name.
    limits: BTreeMap<String, limits::StoredLimit>,
    /// The jobs started by limited claims, oldest first.
    limited_claims: Vec<limits::LimitedClaim>,
    /// Runners' reports.
    activity: activity::Activity,
}

#[derive(Clone, Debug)]
struct StoredJob {
    seq: i64,
    /// While ready: its turn in the ready queue, taken when it became
    /// ready (see [`Store::number_ready`]). `None` in other states.
    ready_turn: Option<i64>,
    /// Claims take a channel's ready jobs of higher priority first, each
    /// priority in turn order.
    priority: i16,
    unique_key: Option<String>,
    unique_for: Option<Duration>,
    trace_context: Option<String>,
    tick: Option<OffsetDateTime>,
    state: JobState,
    name: String,
    channel: ChannelKey,
    ordered: bool,
    /// As in PostgreSQL: due time when scheduled, lease expiry when running.
    run_at: OffsetDateTime,
    /// Its attempt was started by a limited claim: while it runs, it holds
    /// a slot of its channel's limit.
    limit_slot: bool,
    commit_deadline: Option<OffsetDateTime>,
    attempt: i32,
    lease_token: i32,
    retries: i32,
    retry_backoff: Duration,
    retry_backoff_max: Option<Duration>,
    retry_jitter: bool,
    timeout: Option<Duration>,
    payload_json: Option<String>,
    payload_bytes: Option<Vec<u8>>,
    errors: Vec<FailedAttempt>,
    created_at: OffsetDateTime,
}

impl StoredJob {
    /// Whether the job holds its unique key `key` at `now`: it has that
    /// key and is not finished, or completed less than its unique_for ago.
    fn holds_key(&self, name: &str, key: &str, now: OffsetDateTime) -> bool {
        if self.name != name || self.unique_key.as_deref() != Some(key) {
            return false;
        }
        match self.state {
            JobState::Failed | JobState::Cancelled => false,
            JobState::Completed => self.run_at + self.unique_for.unwrap_or_default() > now,
            _ => true,
        }
    }

    /// Its place in the ready queue, while ready: its turn, moved ahead of
    /// the jobs of lower priority (see [`crate::ready_queue`]).
    fn ready_seq(&self) -> Option<i64> {
        self.ready_turn
            .map(|turn| crate::ready_queue::place(self.priority, turn))
    }

    /// Appends to the error history, keeping the latest entries.
    fn record_error(&mut self, at: OffsetDateTime, error: &str) {
        if self.errors.len() >= MAX_ERROR_HISTORY {
            self.errors.remove(0);
        }
        self.errors.push(FailedAttempt::new(
            self.attempt,
            at,
            bound_error_text(error).into_owned(),
        ));
    }

    fn info(&self, id: Uuid) -> JobInfo {
        JobInfo {
            id,
            seq: self.seq,
            state: self.state,
            name: self.name.clone(),
            channel_name: self.channel.name.clone(),
            channel_args: self.channel.args.clone(),
            ordered: self.ordered,
            attempt: self.attempt,
            retries: self.retries,
            retry_backoff: self.retry_backoff,
            retry_backoff_max: self.retry_backoff_max,
            retry_jitter: self.retry_jitter,
            timeout: self.timeout,
            priority: self.priority,
            unique_key: self.unique_key.clone(),
            unique_for: self.unique_for,
            trace_context: self.trace_context.clone(),
            tick: self.tick,
            run_at: self.run_at,
            commit_deadline: self.commit_deadline,
            created_at: self.created_at,
            payload_json: self.payload_json.clone(),
            payload_bytes: self.payload_bytes.clone(),
            errors: self.errors.clone(),
            ordered_ahead: None,
        }
    }
}

/// The error of a violated constraint, as PostgreSQL would report it.
#[derive(Debug, thiserror::Error)]
#[error("duplicate job id {0}")]
struct DuplicateId(Uuid);

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("jobs", &self.store().jobs.len())
            .finish()
    }
}

fn resolve(now: Option<OffsetDateTime>) -> OffsetDateTime {
    now.unwrap_or_else(OffsetDateTime::now_utc)
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // Every update below is applied in full or not at all before the
        // lock is released, so a poisoned lock still guards valid data.
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many jobs exist, in any state.
    pub fn len(&self) -> usize {
        self.store().jobs.len()
    }

    /// Whether no job exists.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Store {
    /// Gives every job that became ready since the last call the next
    /// places in the ready queue (in spawn order, among jobs that became
    /// ready together), and takes them from jobs that are no longer ready.
    /// Every operation that changes states calls it before it returns, so
    /// between operations a job has a place exactly while it is ready.
    fn number_ready(&mut self) {
        let mut new: Vec<(i64, Uuid)> = Vec::new();
        for (id, job) in &mut self.jobs {
            match (job.state == JobState::Ready, job.ready_turn) {
                (true, None) => new.push((job.seq, *id)),
                (false, Some(_)) => job.ready_turn = None,
                _ => {}
            }
        }
        new.sort_unstable();
        for (_, id) in new {
            self.last_ready_turn += 1;
            self.jobs.get_mut(&id).expect("listed above").ready_turn = Some(self.last_ready_turn);
        }
    }

    /// Inserts `jobs` at `now`, all or nothing, as `job_insert` does.
    fn insert(&mut self, jobs: &[&NewJob], now: OffsetDateTime) -> Result<Vec<Spawned>> {
        let store = self;
        // All or nothing, like one INSERT statement.
        let mut ids = HashSet::new();
        for job in jobs {
            if store.jobs.contains_key(&job.id) || !ids.insert(job.id) {
                return Err(Error::backend("job_insert", false, DuplicateId(job.id)));
            }
        }
        let mut wakeups = Vec::new();
        let mut spawned = Vec::with_capacity(jobs.len());
        let mut inserted: Vec<&NewJob> = Vec::with_capacity(jobs.len());
        for job in jobs {
            // A key held by a stored job, or by an earlier job of the batch
            // (stored by now), leaves this one out.
            if let Some(key) = &job.unique_key
                && let Some((holder, _)) = store
                    .jobs
                    .iter()
                    .filter(|(_, stored)| stored.holds_key(&job.name, key, now))
                    .min_by_key(|(_, stored)| stored.seq)
            {
                spawned.push(Spawned::Duplicate(*holder));
                continue;
            }
            spawned.push(Spawned::Inserted(job.id));
            inserted.push(job);
            let state = if job.commit_interval.is_some() {
                JobState::Uncommitted
            } else if job.delay.is_zero() {
                JobState::Ready
            } else {
                JobState::Scheduled
            };
            let seq = store.next_seq;
            store.next_seq += 1;
            store.jobs.insert(
                job.id,
                StoredJob {
                    seq,
                    ready_turn: None,
                    priority: job.priority,
                    unique_key: job.unique_key.clone(),
                    unique_for: job.unique_for,
                    trace_context: job.trace_context.clone(),
                    tick: job.tick,
                    limit_slot: false,
                    state,
                    name: job.name.clone(),
                    channel: ChannelKey {
                        name: job.channel_name.clone(),
                        args: job.channel_args.clone(),
                    },
                    ordered: job.ordered,
                    run_at: now + job.delay,
                    commit_deadline: job.commit_interval.map(|interval| now + interval),
                    attempt: 0,
                    lease_token: 0,
                    retries: i32::try_from(job.retries).unwrap_or(i32::MAX),
                    retry_backoff: job.retry_backoff,
                    retry_backoff_max: job.retry_backoff_max,
                    retry_jitter: job.retry_jitter,
                    timeout: job.timeout,
                    payload_json: job.payload_json.clone(),
                    payload_bytes: job.payload_bytes.clone(),
                    errors: Vec::new(),
                    // As in PostgreSQL, where the column defaults to now():
                    // the spawn time is the real clock's, not the test's.
                    created_at: OffsetDateTime::now_utc(),
                },
            );
            // Unordered ready jobs are told with their place in the ready
            // queue, below.
            if job.ordered || state != JobState::Ready {
                let wakeup = wakeup_for(state, &job.channel_name);
                if !wakeups.contains(&wakeup) {
                    wakeups.push(wakeup);
                }
            }
        }
        let ordered: Vec<ChannelKey> = inserted
            .iter()
            .filter(|job| job.ordered)
            .map(|job| ChannelKey {
                name: job.channel_name.clone(),
                args: job.channel_args.clone(),
            })
            .collect();
        store.settle(&ordered, now);
        store.number_ready();
        // One notification per channel and priority, with the first place.
        let mut queued: BTreeMap<(ChannelKey, i16), i64> = BTreeMap::new();
        for job in inserted.iter().filter(|job| !job.ordered) {
            if let Some(ready_seq) = store.jobs[&job.id].ready_seq() {
                let channel = ChannelKey {
                    name: job.channel_name.clone(),
                    args: job.channel_args.clone(),
                };
                let least = queued.entry((channel, job.priority)).or_insert(ready_seq);
                *least = (*least).min(ready_seq);
            }
        }
        wakeups.extend(
            queued
                .into_iter()
                .map(|((channel, _), ready_seq)| Wakeup::Queued { channel, ready_seq }),
        );
        store.notify(wakeups);
        Ok(spawned)
    }

    /// The ready jobs of a channel, highest priority first, each priority
    /// in turn order; for a target, those of its priority from its place
    /// on.
    fn ready_in(&self, channel: &ChannelKey, target: Option<&ClaimTarget>) -> Vec<Uuid> {
        let mut ready: Vec<(Reverse<i16>, i64, Uuid)> = self
            .jobs
            .iter()
            .filter(|(_, job)| job.state == JobState::Ready && &job.channel == channel)
            .filter(|(_, job)| {
                target.is_none_or(|target| {
                    job.priority == target.priority
                        && job.ready_seq() >= Some(target.from_ready_seq)
                })
            })
            .filter_map(|(id, job)| {
                job.ready_turn
                    .map(|turn| (Reverse(job.priority), turn, *id))
            })
            .collect();
        ready.sort_unstable();
        ready.into_iter().map(|(_, _, id)| id).collect()
    }

    /// Starts the jobs `picked`, held until `lease_until`: a claim's end.
    /// Starts the `picked` ready jobs, leased until `lease_until`; a
    /// limited claim's jobs hold a slot of their limit (`limit_slot`).
    fn start(
        &mut self,
        picked: Vec<Uuid>,
        lease_until: OffsetDateTime,
        limit_slot: bool,
    ) -> Vec<ClaimedJob> {
        picked
            .into_iter()
            .map(|id| {
                let job = self.jobs.get_mut(&id).expect("picked from the store");
                let ready_seq = job.ready_seq().expect("ready jobs have a place");
                job.ready_turn = None;
                job.state = JobState::Running;
                job.attempt += 1;
                job.lease_token += 1;
                job.run_at = lease_until;
                job.limit_slot = limit_slot;
                ClaimedJob::new(
                    id,
                    job.attempt,
                    job.lease_token,
                    job.name.clone(),
                    job.channel.name.clone(),
                    job.channel.args.clone(),
                    job.ordered,
                    job.retries,
                    job.retry_backoff,
                    job.payload_json.clone(),
                    job.payload_bytes.clone(),
                )
                .with_retry_limits(job.retry_backoff_max, job.retry_jitter)
                .with_timeout(job.timeout)
                .with_ready_seq(ready_seq)
                .with_trace_context(job.trace_context.clone())
                .with_tick(job.tick)
            })
            .collect()
    }

    fn notify(&mut self, wakeups: impl IntoIterator<Item = Wakeup>) {
        let wakeups: Vec<Wakeup> = wakeups.into_iter().collect();
        self.listeners.retain(|listener| {
            wakeups
                .iter()
                .all(|wakeup| listener.unbounded_send(wakeup.clone()).is_ok())
        });
    }

    /// The running job held by `lease`, if the lease is current.
    fn held(&mut self, lease: JobLease) -> Option<&mut StoredJob> {
        self.jobs
            .get_mut(&lease.id)
            .filter(|job| job.state == JobState::Running && job.lease_token == lease.token)
    }

    /// Puts ordered channels in order after a change: an ordered job
    /// holds its channel from its spawn until it completes (or is deleted,
    /// cancelled or discarded), and of the jobs holding a channel only the
    /// first in spawn order may be anything but blocked. The first becomes
    /// uncommitted, scheduled or ready as its commit interval and delay say
    /// (at `now`); the others wait, blocked. Returns how many jobs were
    /// unblocked.
    fn settle<'c>(
        &mut self,
        channels: impl IntoIterator<Item = &'c ChannelKey>,
        now: OffsetDateTime,
    ) -> u64 {
        let channels: BTreeSet<&ChannelKey> = channels.into_iter().collect();
        let mut unblocked = 0;
        for channel in channels {
            let mut holding: Vec<(i64, Uuid)> = self
                .jobs
                .iter()
                .filter(|(_, job)| job.holds(channel))
                .map(|(id, job)| (job.seq, *id))
                .collect();
            holding.sort_unstable();
            for (place, (_, id)) in holding.into_iter().enumerate() {
                let job = self.jobs.get_mut(&id).expect("listed above");
                if place == 0 {
                    if job.state == JobState::Blocked {
                        job.state = job.unblocked_state(now);
                        unblocked += 1;
                    }
                } else if matches!(
                    job.state,
                    JobState::Uncommitted | JobState::Scheduled | JobState::Ready
                ) {
                    job.state = JobState::Blocked;
                } else {
                    // Only the first holding job ever runs, so no later one
                    // can be running or failed.
                    debug_assert_eq!(job.state, JobState::Blocked, "job {id} runs out of turn");
                }
            }
        }
        unblocked
    }
}

impl StoredJob {
    /// Whether this job passes `filter` (at `now`).
    fn passes(&self, id: Uuid, filter: &JobFilter<'_>, now: OffsetDateTime) -> bool {
        filter.matches(
            id,
            &self.name,
            &self.channel.name,
            self.state,
            self.run_at,
            now,
        )
    }

    /// Whether this job holds `channel`: ordered on it, and neither
    /// completed nor cancelled.
    fn holds(&self, channel: &ChannelKey) -> bool {
        self.ordered
            && !matches!(self.state, JobState::Completed | JobState::Cancelled)
            && &self.channel == channel
    }

    /// The state a blocked job takes when its turn comes.
    fn unblocked_state(&self, now: OffsetDateTime) -> JobState {
        if self.commit_deadline.is_some() {
            JobState::Uncommitted
        } else {
            ready_or_scheduled(self.run_at, now)
        }
    }
}

/// The error recorded for an attempt whose lease lapsed (as in
/// `job_schedule.sql`).
const LEASE_EXPIRED: &str = "the job's lease expired before it finished";

fn ready_or_scheduled(run_at: OffsetDateTime, now: OffsetDateTime) -> JobState {
    if run_at <= now {
        JobState::Ready
    } else {
        JobState::Scheduled
    }
}

fn wakeup_for(state: JobState, channel_name: &str) -> Wakeup {
    let channel_name = Some(channel_name.to_owned());
    match state {
        JobState::Ready => Wakeup::Ready { channel_name },
        _ => Wakeup::Scheduled { channel_name },
    }
}

#[async_trait]
impl Backend for MemoryBackend {
    async fn job_insert(&self, params: JobInsertParams<'_>) -> Result<Vec<Spawned>> {
        self.store().insert(&params.jobs, resolve(params.now))
    }

    async fn channel_limit(&self, params: ChannelLimitParams<'_>) -> Result<bool> {
        params.validate()?;
        let mut store = self.store();
        let changed = store.channel_limit(params.channel_name, params.action, resolve(None));
        if changed && matches!(params.action, LimitAction::Remove) {
            // Its jobs are the ordinary claims' again.
            store.notify([Wakeup::Ready {
                channel_name: Some(params.channel_name.to_owned()),
            }]);
        }
        Ok(changed)
    }

    async fn channel_limits(&self, params: ChannelLimitsParams) -> Result<Vec<LimitInfo>> {
        Ok(self
            .store()
            .channel_limits(resolve(params.now), params.with_use))
    }

    async fn job_claim_limited(
        &self,
        params: JobClaimLimitedParams<'_>,
    ) -> Result<Vec<ClaimedJob>> {
        Ok(self.store().job_claim_limited(&params, resolve(params.now)))
    }

    async fn schedule_declare(
        &self,
        params: ScheduleDeclareParams<'_>,
    ) -> Result<ScheduleDeclared> {
        Ok(self.store().schedule_declare(&params, resolve(params.now)))
    }

    async fn schedule_fire(&self, params: ScheduleFireParams<'_>) -> Result<Option<Vec<Spawned>>> {
        self.store().schedule_fire(&params, resolve(params.now))
    }

    async fn schedule_release(&self, params: ScheduleReleaseParams<'_>) -> Result<()> {
        self.store().schedule_release(&params);
        Ok(())
    }

    async fn schedule_list(&self, params: ScheduleListParams) -> Result<Vec<ScheduleInfo>> {
        Ok(self.store().schedule_list(resolve(params.now)))
    }

    async fn activity_record(&self, params: ActivityRecordParams<'_>) -> Result<()> {
        self.store().activity_record(&params, resolve(params.now));
        Ok(())
    }

    async fn throughput_list(&self, params: ThroughputListParams) -> Result<Vec<MinuteCount>> {
        Ok(self.store().throughput_list(&params, resolve(params.now)))
    }

    async fn runner_list(&self, _params: RunnerListParams) -> Result<Vec<RunnerInfo>> {
        Ok(self.store().runner_list())
    }

    async fn job_claim(&self, params: JobClaimParams<'_>) -> Result<Vec<ClaimedJob>> {
        let now = resolve(params.now);
        let limit = params.limit as usize;
        let mut store = self.store();
        let wanted = |channel: &ChannelKey| {
            params
                .channel_names
                .is_none_or(|names| names.iter().any(|name| name == &channel.name))
        };
        store.number_ready();
        let paused = store.paused.clone();
        let limited: BTreeSet<String> = store.limits.keys().cloned().collect();
        // Limited channels are claimed only by `job_claim_limited`.
        let runnable = |channel: &ChannelKey| {
            !paused.contains_key(&channel.name) && !limited.contains(&channel.name)
        };
        let visits: Vec<(ChannelKey, Option<&ClaimTarget>)> = match params.targets {
            Some(targets) => targets
                .iter()
                .filter(|target| runnable(&target.channel))
                .map(|target| (target.channel.clone(), Some(target)))
                .collect(),
            None => {
                let channels: BTreeSet<ChannelKey> = store
                    .jobs
                    .values()
                    .filter(|job| {
                        job.state == JobState::Ready
                            && wanted(&job.channel)
                            && runnable(&job.channel)
                    })
                    .map(|job| job.channel.clone())
                    .collect();
                // After the cursor first, then wrap around to the start.
                let (before, after): (Vec<_>, Vec<_>) = channels
                    .into_iter()
                    .partition(|channel| params.after.is_some_and(|cursor| channel <= cursor));
                after
                    .into_iter()
                    .chain(before)
                    .map(|channel| (channel, None))
                    .collect()
            }
        };
        let mut picked: Vec<Uuid> = Vec::new();
        for (channel, target) in visits {
            if picked.len() >= limit {
                break;
            }
            let room = limit - picked.len();
            picked.extend(
                store
                    .ready_in(&channel, target)
                    .into_iter()
                    .filter(|id| !picked.contains(id))
                    .take(room)
                    .collect::<Vec<_>>(),
            );
        }
        picked.truncate(limit);
        Ok(store.start(picked, now + params.lease, false))
    }

    async fn job_complete(
        &self,
        params: JobCompleteParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        let now = resolve(params.now);
        let mut store = self.store();
        let mut outcomes = Vec::new();
        let mut ordered = Vec::new();
        for lease in params.leases {
            let Some(job) = store.held(*lease) else {
                outcomes.push((*lease, LeaseOutcome::Lost));
                continue;
            };
            if job.ordered {
                ordered.push(job.channel.clone());
            }
            // A job unique for a while after completing is kept to hold
            // its key that long.
            if params.keep_completed || job.unique_for.is_some() {
                job.state = JobState::Completed;
                job.run_at = now;
            } else {
                store.jobs.remove(&lease.id);
            }
            outcomes.push((*lease, LeaseOutcome::Done));
        }
        store.settle(&ordered, now);
        store.number_ready();
        Ok(outcomes)
    }

    async fn job_fail(&self, params: JobFailParams<'_>) -> Result<Vec<(JobLease, JobFailOutcome)>> {
        let now = resolve(params.now);
        let mut store = self.store();
        let mut outcomes = Vec::new();
        for failure in params.failures {
            let Some(job) = store.held(failure.lease) else {
                outcomes.push((failure.lease, JobFailOutcome::LeaseLost));
                continue;
            };
            job.record_error(now, failure.error);
            let outcome = if crate::retry::has_attempts_left(job.attempt, job.retries) {
                job.run_at = now + failure.retry_delay;
                job.state = ready_or_scheduled(job.run_at, now);
                JobFailOutcome::Retrying
            } else {
                job.state = JobState::Failed;
                job.run_at = now;
                JobFailOutcome::Failed
            };
            outcomes.push((failure.lease, outcome));
        }
        store.number_ready();
        Ok(outcomes)
    }

    async fn job_release(
        &self,
        params: JobReleaseParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        let now = resolve(params.now);
        let mut store = self.store();
        let mut outcomes = Vec::new();
        for lease in params.leases {
            let Some(job) = store.held(*lease) else {
                outcomes.push((*lease, LeaseOutcome::Lost));
                continue;
            };
            job.attempt -= 1;
            job.run_at = now + params.delay;
            job.state = ready_or_scheduled(job.run_at, now);
            outcomes.push((*lease, LeaseOutcome::Done));
        }
        store.number_ready();
        Ok(outcomes)
    }

    async fn job_keep_alive(
        &self,
        params: JobKeepAliveParams<'_>,
    ) -> Result<Vec<(JobLease, LeaseOutcome)>> {
        let now = resolve(params.now);
        let mut store = self.store();
        Ok(params
            .leases
            .iter()
            .map(|lease| match store.held(*lease) {
                Some(job) => {
                    job.run_at = job.run_at.max(now + params.lease);
                    (*lease, LeaseOutcome::Done)
                }
                None => (*lease, LeaseOutcome::Lost),
            })
            .collect())
    }

    async fn job_checkpoint(&self, params: JobCheckpointParams<'_>) -> Result<bool> {
        let mut store = self.store();
        let Some(job) = store.held(params.lease) else {
            return Ok(false);
        };
        if let Some(json) = params.payload_json {
            job.payload_json = Some(json.to_owned());
        }
        if let Some(bytes) = params.payload_bytes {
            job.payload_bytes = Some(bytes.to_vec());
        }
        let extra = i32::try_from(params.extra_retries).unwrap_or(i32::MAX);
        job.retries = job.retries.saturating_add(extra);
        if let Some(duration) = params.keep_alive {
            job.run_at = job.run_at.max(resolve(params.now) + duration);
        }
        Ok(true)
    }

    async fn job_commit(&self, params: JobCommitParams<'_>) -> Result<Vec<Uuid>> {
        let now = resolve(params.now);
        let mut store = self.store();
        let mut missing = Vec::new();
        let mut wakeups = Vec::new();
        for id in params.ids {
            match store.jobs.get_mut(id) {
                // Committed before.
                Some(job) if job.commit_deadline.is_none() => {}
                Some(job) if job.commit_deadline.is_some_and(|deadline| deadline > now) => {
                    job.commit_deadline = None;
                    // A blocked job stays blocked, committed, until its turn.
                    if job.state == JobState::Uncommitted {
                        job.state = ready_or_scheduled(job.run_at, now);
                        wakeups.push(wakeup_for(job.state, &job.channel.name));
                    }
                }
                _ => missing.push(*id),
            }
        }
        store.number_ready();
        store.notify(wakeups);
        Ok(missing)
    }

    async fn job_get(&self, params: JobGetParams) -> Result<Option<JobInfo>> {
        let store = self.store();
        let Some(job) = store.jobs.get(&params.id) else {
            return Ok(None);
        };
        let mut info = job.info(params.id);
        let unfinished = |job: &StoredJob| {
            job.ordered && !matches!(job.state, JobState::Completed | JobState::Cancelled)
        };
        if unfinished(job) {
            info.ordered_ahead = Some(
                store
                    .jobs
                    .values()
                    .filter(|other| {
                        unfinished(other) && other.channel == job.channel && other.seq < job.seq
                    })
                    .count() as u64,
            );
        }
        Ok(Some(info))
    }

    async fn job_list(&self, params: JobListParams<'_>) -> Result<Vec<JobSummary>> {
        let store = self.store();
        let now = resolve(params.filter.now);
        let mut jobs: Vec<(&Uuid, &StoredJob)> = store
            .jobs
            .iter()
            .filter(|(id, job)| {
                job.passes(**id, &params.filter, now)
                    && params.after.is_none_or(|after| **id > after)
            })
            .collect();
        jobs.sort_unstable_by_key(|(id, _)| **id);
        Ok(jobs
            .into_iter()
            .take(params.limit as usize)
            .map(|(id, job)| JobSummary::from(job.info(*id)))
            .collect())
    }

    async fn job_retry(&self, params: JobRetryParams<'_>) -> Result<Vec<Uuid>> {
        let now = resolve(params.filter.now);
        let mut store = self.store();
        let mut retried = Vec::new();
        let mut wakeups = Vec::new();
        for (id, job) in store.jobs.iter_mut() {
            if job.state == JobState::Failed && job.passes(*id, &params.filter, now) {
                job.state = JobState::Ready;
                job.attempt = 0;
                job.run_at = now;
                // It gave its unique key up when it failed: another job may
                // hold it now.
                job.unique_key = None;
                retried.push((job.seq, *id));
                let wakeup = wakeup_for(JobState::Ready, &job.channel.name);
                if !wakeups.contains(&wakeup) {
                    wakeups.push(wakeup);
                }
            }
        }
        store.number_ready();
        store.notify(wakeups);
        retried.sort_unstable();
        Ok(retried.into_iter().map(|(_, id)| id).collect())
    }

    async fn job_delete(&self, params: JobDeleteParams<'_>) -> Result<Vec<Uuid>> {
        let now = resolve(params.filter.now);
        let mut store = self.store();
        let mut deleted = Vec::new();
        let mut ordered = Vec::new();
        store.jobs.retain(|id, job| {
            let delete = job.passes(*id, &params.filter, now);
            if delete {
                deleted.push((job.seq, *id));
                if job.ordered {
                    ordered.push(job.channel.clone());
                }
            }
            !delete
        });
        store.settle(&ordered, now);
        store.number_ready();
        deleted.sort_unstable();
        Ok(deleted.into_iter().map(|(_, id)| id).collect())
    }

    async fn job_stats(&self, params: JobStatsParams) -> Result<QueueStats> {
        let now = resolve(params.now);
        let store = self.store();
        let mut counts: std::collections::BTreeMap<(&str, JobState), JobStateCount> =
            std::collections::BTreeMap::new();
        for job in store.jobs.values() {
            let row = counts
                .entry((job.channel.name.as_str(), job.state))
                .or_insert_with(|| {
                    JobStateCount::new(job.channel.name.clone(), job.state, 0, 0, None)
                });
            row.count += 1;
            row.ordered += u64::from(job.ordered);
            if job.state == JobState::Ready {
                let age = (now - job.run_at).try_into().unwrap_or(Duration::ZERO);
                row.oldest_ready_age = Some(row.oldest_ready_age.map_or(age, |old| old.max(age)));
            }
        }
        let paused = store
            .paused
            .iter()
            .map(|(name, at)| ChannelPause::new(name.clone(), *at))
            .collect();
        Ok(QueueStats::new(counts.into_values().collect(), paused))
    }

    async fn job_cancel(&self, params: JobCancelParams<'_>) -> Result<Vec<(Uuid, CancelOutcome)>> {
        let now = resolve(params.now);
        let mut store = self.store();
        let mut outcomes = Vec::new();
        let mut channels = Vec::new();
        let mut wakeups = Vec::new();
        for id in params.ids {
            let Some(job) = store.jobs.get_mut(id) else {
                continue;
            };
            let outcome = match job.state {
                JobState::Failed | JobState::Completed | JobState::Cancelled => {
                    CancelOutcome::Finished(job.state)
                }
                state => {
                    job.state = JobState::Cancelled;
                    job.run_at = now;
                    job.commit_deadline = None;
                    job.ready_turn = None;
                    if job.ordered {
                        channels.push(job.channel.clone());
                        if state != JobState::Blocked {
                            // It held its channel: the next job runs now.
                            wakeups.push(Wakeup::Ready {
                                channel_name: Some(job.channel.name.clone()),
                            });
                        }
                    }
                    if state == JobState::Running {
                        wakeups.push(Wakeup::Cancelled { id: *id });
                        CancelOutcome::CancelledRunning
                    } else {
                        CancelOutcome::Cancelled
                    }
                }
            };
            if !outcomes.iter().any(|(seen, _)| seen == id) {
                outcomes.push((*id, outcome));
            }
        }
        store.settle(&channels, now);
        store.number_ready();
        store.notify(wakeups);
        Ok(outcomes)
    }

    async fn channel_pause(&self, params: ChannelPauseParams<'_>) -> Result<bool> {
        let mut store = self.store();
        let name = params.channel_name;
        match params.action {
            PauseAction::Pause => {
                if store.paused.contains_key(name) {
                    return Ok(false);
                }
                store.paused.insert(name.to_owned(), resolve(params.now));
                Ok(true)
            }
            PauseAction::Resume => {
                if store.paused.remove(name).is_none() {
                    return Ok(false);
                }
                store.notify([Wakeup::Ready {
                    channel_name: Some(name.to_owned()),
                }]);
                Ok(true)
            }
        }
    }

    async fn job_schedule(&self, params: JobScheduleParams) -> Result<JobScheduleResult> {
        let now = resolve(params.now);
        let mut store = self.store();
        let mut result = JobScheduleResult::default();
        let mut ordered = Vec::new();
        store.jobs.retain(|_, job| {
            let lapsed = job.commit_deadline.is_some_and(|deadline| deadline <= now);
            if lapsed {
                result.discarded += 1;
                if job.ordered {
                    ordered.push(job.channel.clone());
                }
            }
            !lapsed
        });
        if params.settle_ordered {
            ordered.extend(
                store
                    .jobs
                    .values()
                    .filter(|job| job.state == JobState::Blocked)
                    .map(|job| job.channel.clone()),
            );
        }
        result.unblocked = store.settle(&ordered, now);
        let mut next_due: Option<OffsetDateTime> = None;
        for job in store.jobs.values_mut() {
            match job.state {
                JobState::Scheduled if job.run_at <= now => {
                    job.state = JobState::Ready;
                    result.made_ready += 1;
                }
                JobState::Running if job.run_at <= now => {
                    job.record_error(now, LEASE_EXPIRED);
                    if crate::retry::has_attempts_left(job.attempt, job.retries) {
                        job.state = JobState::Ready;
                    } else {
                        job.state = JobState::Failed;
                    }
                    result.rescued += 1;
                }
                JobState::Scheduled => {
                    next_due = Some(next_due.map_or(job.run_at, |due| due.min(job.run_at)));
                }
                _ => {}
            }
            if let Some(deadline) = job.commit_deadline {
                next_due = Some(next_due.map_or(deadline, |due| due.min(deadline)));
            }
        }
        result.next_due_in = next_due.map(|due| (due - now).try_into().unwrap_or(Duration::ZERO));
        store.number_ready();
        // Every transition due until now is made, whatever `due_after` says.
        Ok(result.with_due_until(now))
    }

    async fn listen(&self, _params: ListenParams<'_>) -> Result<BoxStream<'static, Wakeup>> {
        let (tx, rx) = mpsc::unbounded();
        self.store().listeners.push(tx);
        Ok(rx.boxed())
    }
}
