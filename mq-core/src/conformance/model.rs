//! Model-based conformance: random sequences of operations, with the
//! invariants users rely on checked after every step.
//!
//! A sequence spawns ordered and unordered jobs over a few channels and
//! arguments (some delayed, some two-phase), commits, claims as several
//! runners (each with its own fairness cursor, some filtered by channel
//! name), completes, fails and releases (singly, in batches, with stale
//! leases), lets leases lapse as crashed runners would, deletes and
//! retries, and moves a clock forward. The test keeps its own record of
//! what it did, not a copy of any backend, and checks against it:
//!
//! - **no loss**: a job leaves the backend only by completing, by being
//!   deleted, or by being discarded (two-phase, never committed);
//! - **exactly once**: no job completes twice, and only its current lease
//!   can complete it;
//! - **ordering**: of the jobs holding an ordered channel only the first
//!   spawned is anything but blocked, and a channel's ordered jobs
//!   complete in spawn order;
//! - **liveness**: a claim that returns fewer jobs than it asked for leaves
//!   no ready job behind, and in the end (the clock far ahead, failed jobs
//!   retried) every job that was committed and not deleted completes;
//! - **fairness**: claims of one job each, following the cursor, serve
//!   every channel with ready jobs once before any twice;
//! - **priority**: a claim that takes a job of a channel leaves no ready job
//!   of higher priority behind on that channel;
//! - **unique keys**: a spawn inserts a job with a key exactly when no job
//!   holds the key (one not finished, nor retried after failing), and
//!   otherwise names the holder; no two jobs ever hold one key.
//!
//! A failing sequence is shrunk (proptest) and printed. The number of
//! sequences is `MQ_MODEL_CASES` (default 24) and the seed `MQ_MODEL_SEED`
//! (default: random, printed on failure), so that a failure can be replayed
//! and a longer run asked for.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::*;
use crate::backend::{CancelOutcome, ChannelPauseParams, JobCancelParams, PauseAction};

const CHANNELS: u8 = 4;
const ARGS: u8 = 2;
const RUNNERS: u8 = 3;
/// The lease runners take in the model, in seconds.
const LEASE_SECS: u64 = 10;
/// The commit interval of two-phase jobs, in seconds.
const COMMIT_SECS: u64 = 30;

/// One job of a spawn.
#[derive(Clone, Debug)]
struct NewSpawn {
    channel: u8,
    args: u8,
    ordered: bool,
    delay_secs: u8,
    two_phase: bool,
    retries: u8,
    priority: i16,
    /// The unique key, of [`KEYS`].
    key: Option<u8>,
}

/// How many unique keys the model's jobs draw from.
const KEYS: u8 = 2;

/// The priorities jobs of the model take, highest first.
const PRIORITIES: [i16; 3] = [3, 0, -1];

/// One step of a sequence. Indexes into the jobs or leases the sequence
/// has made so far wrap around, so that any sequence is valid.
#[derive(Clone, Debug)]
enum Op {
    /// One insert of one or more jobs.
    Spawn(Vec<NewSpawn>),
    /// Commits one two-phase job.
    Commit(usize),
    /// A runner claims up to `limit` jobs; `filtered` runners take only
    /// channels c0 and c1. A `targeted` claim names every channel, each
    /// from past the last job the runner claimed there (a runner that
    /// heard of no job); in a model where claims come one at a time, it
    /// must find every ready job a claim over all channels would.
    Claim {
        runner: u8,
        limit: u8,
        filtered: bool,
        targeted: bool,
    },
    /// Completes one of the runner's leases, or a stale lease of the job.
    Complete {
        runner: u8,
        pick: usize,
        stale: bool,
    },
    /// Completes all the runner's leases in one batch.
    CompleteAll { runner: u8 },
    /// Fails one of the runner's leases.
    Fail {
        runner: u8,
        pick: usize,
        delay_secs: u8,
    },
    /// The runner stops: gives its jobs back in one batch.
    Release { runner: u8 },
    /// The runner dies: its leases lapse.
    Crash { runner: u8 },
    /// Renews the runner's leases.
    KeepAlive { runner: u8 },
    /// Moves the clock forward, then runs the time-driven transitions.
    Advance { secs: u8 },
    /// Deletes one job, in whatever state.
    Delete(usize),
    /// Retries every failed job.
    RetryFailed,
    /// Claims one job at a time, following the cursor, across every
    /// channel with ready jobs; then gives them back.
    Fairness,
    /// Cancels one job, in whatever state.
    Cancel(usize),
    /// Pauses a channel name: claims must skip its jobs.
    Pause(u8),
    /// Resumes a channel name.
    Resume(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let spawn = (
        0..CHANNELS,
        0..ARGS,
        any::<bool>(),
        prop_oneof![3 => Just(0u8), 1 => 1..6u8],
        prop::bool::weighted(0.15),
        0..3u8,
        prop_oneof![4 => Just(0i16), 1 => Just(PRIORITIES[0]), 1 => Just(PRIORITIES[2])],
        prop_oneof![3 => Just(None), 1 => (0..KEYS).prop_map(Some)],
    )
        .prop_map(
            |(channel, args, ordered, delay_secs, two_phase, retries, priority, key)| NewSpawn {
                channel,
                args,
                ordered,
                delay_secs,
                two_phase,
                retries,
                priority,
                key,
            },
        );
    prop_oneof![
        6 => prop::collection::vec(spawn, 1..4).prop_map(Op::Spawn),
        1 => any::<usize>().prop_map(Op::Commit),
        6 => (0..RUNNERS, 1..6u8, prop::bool::weighted(0.2), any::<bool>())
            .prop_map(|(runner, limit, filtered, targeted)| Op::Claim {
                runner,
                limit,
                filtered,
                targeted,
            }),
        3 => (0..RUNNERS, any::<usize>(), prop::bool::weighted(0.1))
            .prop_map(|(runner, pick, stale)| Op::Complete { runner, pick, stale }),
        2 => (0..RUNNERS).prop_map(|runner| Op::CompleteAll { runner }),
        2 => (0..RUNNERS, any::<usize>(), 0..3u8)
            .prop_map(|(runner, pick, delay_secs)| Op::Fail { runner, pick, delay_secs }),
        1 => (0..RUNNERS).prop_map(|runner| Op::Release { runner }),
        1 => (0..RUNNERS).prop_map(|runner| Op::Crash { runner }),
        1 => (0..RUNNERS).prop_map(|runner| Op::KeepAlive { runner }),
        3 => (1..15u8).prop_map(|secs| Op::Advance { secs }),
        1 => any::<usize>().prop_map(Op::Delete),
        1 => Just(Op::RetryFailed),
        1 => Just(Op::Fairness),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => (0..CHANNELS).prop_map(Op::Pause),
        1 => (0..CHANNELS).prop_map(Op::Resume),
    ]
}

fn sequence() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..60)
}

/// What became of a job, as far as the test knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Spawned, not finished.
    Live,
    /// Its completion was acknowledged.
    Completed,
    /// Deleted by the test.
    Deleted,
    /// Cancelled by the test: kept, never to run again.
    Cancelled,
}

/// A job the sequence spawned.
#[derive(Debug)]
struct Tracked {
    id: Uuid,
    channel: ChannelKey,
    ordered: bool,
    priority: i16,
    /// Spawned with a commit interval and not committed (yet).
    uncommitted: bool,
    /// When an uncommitted job is discarded (seconds on the clock).
    commit_deadline: u64,
    retries: i32,
    /// Attempts counted so far (what the backend's `attempt` should be).
    attempts: i32,
    fate: Fate,
    completions: u32,
    /// The newest lease token handed out for the job.
    token: i32,
    /// The lease the job runs under, and when it lapses (seconds on the
    /// clock), while it runs.
    running: Option<(i32, u64)>,
}

/// A lease a runner holds (or held).
#[derive(Clone, Copy, Debug)]
struct Held {
    job: usize,
    lease: JobLease,
}

/// The test's record of a sequence under way.
struct Run<'b> {
    backend: &'b dyn Backend,
    base: Clock,
    /// Seconds since `base`.
    now: u64,
    jobs: Vec<Tracked>,
    index: HashMap<Uuid, usize>,
    held: BTreeMap<u8, Vec<Held>>,
    /// Leases runners no longer hold (some still current: their runner
    /// crashed), for completions with stale leases.
    stale: Vec<Held>,
    cursors: BTreeMap<u8, Option<ChannelKey>>,
    /// Per runner, channel and priority: the place in the ready queue of
    /// the last job the runner claimed there.
    claimed_until: BTreeMap<(u8, ChannelKey, i16), i64>,
    /// Per ordered channel, the jobs in the order they completed.
    completed_order: BTreeMap<ChannelKey, Vec<usize>>,
    /// The channel names paused.
    paused: BTreeSet<String>,
    log: String,
}

type Check = std::result::Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!($($arg)+));
        }
    };
}

impl<'b> Run<'b> {
    fn at(&self) -> Option<OffsetDateTime> {
        self.base.at(self.now as f64)
    }

    fn channel_of(spawn: &NewSpawn) -> ChannelKey {
        ChannelKey {
            name: format!("c{}", spawn.channel),
            args: format!("a{}", spawn.args),
        }
    }

    /// Whether the job runs under the lease `held` as far as the test
    /// knows. (Leases lapse only as the clock moves, which always runs the
    /// time-driven transitions, so a lapsed lease has been taken back.)
    fn current(&self, held: &Held) -> bool {
        let job = &self.jobs[held.job];
        job.fate == Fate::Live && job.running.map(|(token, _)| token) == Some(held.lease.token)
    }

    async fn step(&mut self, op: &Op) -> Check {
        let _ = writeln!(self.log, "t={:>3} {op:?}", self.now);
        match op {
            Op::Spawn(spawns) => self.spawn(spawns).await?,
            Op::Commit(pick) => self.commit(*pick).await?,
            Op::Claim {
                runner,
                limit,
                filtered,
                targeted,
            } => {
                self.claim(*runner, u32::from(*limit), *filtered, *targeted)
                    .await?
            }
            Op::Complete {
                runner,
                pick,
                stale,
            } => self.complete_one(*runner, *pick, *stale).await?,
            Op::CompleteAll { runner } => {
                let held = self.held.remove(runner).unwrap_or_default();
                self.complete(held).await?;
            }
            Op::Fail {
                runner,
                pick,
                delay_secs,
            } => self.fail(*runner, *pick, *delay_secs).await?,
            Op::Release { runner } => {
                let held = self.held.remove(runner).unwrap_or_default();
                self.release(held).await?;
            }
            Op::Crash { runner } => {
                let held = self.held.remove(runner).unwrap_or_default();
                self.stale.extend(held);
            }
            Op::KeepAlive { runner } => self.keep_alive(*runner).await?,
            Op::Advance { secs } => self.advance(u64::from(*secs)).await?,
            Op::Delete(pick) => self.delete(*pick).await?,
            Op::RetryFailed => {
                let retried = self
                    .backend
                    .job_retry(JobRetryParams {
                        filter: JobFilter {
                            now: self.at(),
                            ..JobFilter::default()
                        },
                    })
                    .await
                    .map_err(|e| format!("job_retry: {e}"))?;
                for id in retried {
                    let i = self.index[&id];
                    self.jobs[i].attempts = 0;
                }
            }
            Op::Fairness => self.fairness().await?,
            Op::Cancel(pick) => self.cancel(*pick).await?,
            Op::Pause(channel) => self.pause(*channel, PauseAction::Pause).await?,
            Op::Resume(channel) => self.pause(*channel, PauseAction::Resume).await?,
        }
        self.check_states().await
    }

    async fn spawn(&mut self, spawns: &[NewSpawn]) -> Check {
        let builders: Vec<JobBuilder> = spawns
            .iter()
            .map(|spawn| {
                let channel = Self::channel_of(spawn);
                let mut b = JobBuilder::new("model");
                b.set_channel_name(&channel.name)
                    .set_channel_args(&channel.args)
                    .set_ordered(spawn.ordered)
                    .set_retries(u32::from(spawn.retries))
                    .set_priority(spawn.priority)
                    .set_delay(Duration::from_secs(u64::from(spawn.delay_secs)));
                if spawn.two_phase {
                    b.set_commit_interval(Some(Duration::from_secs(COMMIT_SECS)));
                }
                if let Some(key) = spawn.key {
                    b.set_unique_key(format!("k{key}"));
                }
                b
            })
            .collect();
        // What the spawn should do with each key: the holder before it,
        // then the first job of the batch with the key.
        let mut holders: BTreeMap<String, Uuid> = self.key_holders().await?;
        let expected: Vec<Spawned> = builders
            .iter()
            .map(|b| match &b.job().unique_key {
                Some(key) => match holders.get(key) {
                    Some(holder) => Spawned::Duplicate(*holder),
                    None => {
                        holders.insert(key.clone(), b.id());
                        Spawned::Inserted(b.id())
                    }
                },
                None => Spawned::Inserted(b.id()),
            })
            .collect();
        let spawned = self
            .backend
            .job_insert(JobInsertParams {
                jobs: builders.iter().map(JobBuilder::job).collect(),
                now: self.at(),
            })
            .await
            .map_err(|e| format!("job_insert: {e}"))?;
        ensure!(
            spawned == expected,
            "the spawn gave {spawned:?}, where the keys' holders give {expected:?}"
        );
        for ((spawn, builder), spawned) in spawns.iter().zip(&builders).zip(&spawned) {
            if !spawned.is_inserted() {
                continue;
            }
            self.index.insert(builder.id(), self.jobs.len());
            self.jobs.push(Tracked {
                id: builder.id(),
                channel: Self::channel_of(spawn),
                ordered: spawn.ordered,
                priority: spawn.priority,
                uncommitted: spawn.two_phase,
                commit_deadline: self.now + COMMIT_SECS,
                retries: i32::from(spawn.retries),
                attempts: 0,
                fate: Fate::Live,
                completions: 0,
                token: 0,
                running: None,
            });
        }
        Ok(())
    }

    async fn commit(&mut self, pick: usize) -> Check {
        let waiting: Vec<usize> = (0..self.jobs.len())
            .filter(|&i| self.jobs[i].uncommitted)
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        let i = waiting[pick % waiting.len()];
        let job = &self.jobs[i];
        let missing = self
            .backend
            .job_commit(JobCommitParams {
                ids: &[job.id],
                now: self.at(),
            })
            .await
            .map_err(|e| format!("job_commit: {e}"))?;
        let lapsed = job.commit_deadline <= self.now;
        if job.fate == Fate::Live && !lapsed {
            ensure!(
                missing.is_empty(),
                "committing live job {i} said it was missing"
            );
            self.jobs[i].uncommitted = false;
        } else {
            ensure!(
                missing == [job.id],
                "committing gone job {i} did not say so"
            );
        }
        Ok(())
    }

    async fn claim(&mut self, runner: u8, limit: u32, filtered: bool, targeted: bool) -> Check {
        let names = ["c0".to_owned(), "c1".to_owned()];
        let names = filtered.then_some(&names[..]);
        let cursor = self.cursors.get(&runner).cloned().flatten();
        let targets: Option<Vec<ClaimTarget>> = targeted.then(|| {
            let channels = if filtered { 2 } else { CHANNELS };
            (0..channels)
                .flat_map(|channel| (0..ARGS).map(move |args| (channel, args)))
                .flat_map(|(channel, args)| PRIORITIES.map(|priority| (channel, args, priority)))
                .map(|(channel, args, priority)| {
                    let channel = ChannelKey {
                        name: format!("c{channel}"),
                        args: format!("a{args}"),
                    };
                    let from_ready_seq = self
                        .claimed_until
                        .get(&(runner, channel.clone(), priority))
                        .map_or(i64::MIN, |last| last + 1);
                    ClaimTarget {
                        channel,
                        priority,
                        from_ready_seq,
                    }
                })
                .collect()
        });
        let claimed = self
            .backend
            .job_claim(JobClaimParams {
                channel_names: names,
                limit,
                lease: Duration::from_secs(LEASE_SECS),
                after: cursor.as_ref(),
                targets: targets.as_deref(),
                now: self.at(),
            })
            .await
            .map_err(|e| format!("job_claim: {e}"))?;
        if targets.is_none()
            && let Some(next) = claim_cursor(cursor.as_ref(), &claimed)
        {
            self.cursors.insert(runner, Some(next));
        }
        for job in &claimed {
            let priority = self
                .index
                .get(&job.id)
                .map_or(0, |&i| self.jobs[i].priority);
            if let Some(target) = targets
                .iter()
                .flatten()
                .find(|target| target.channel == job.channel() && target.priority == priority)
            {
                ensure!(
                    target.ready_seqs().contains(&job.ready_seq),
                    "a targeted claim took a job at {} of a channel and priority it asked \
                     from {:?}",
                    job.ready_seq,
                    target.ready_seqs()
                );
            } else if targets.is_some() {
                return Err(format!(
                    "a targeted claim took a job of {:?}",
                    job.channel()
                ));
            }
            let last = self
                .claimed_until
                .entry((runner, job.channel(), priority))
                .or_insert(job.ready_seq);
            *last = (*last).max(job.ready_seq);
        }
        ensure!(
            claimed.len() <= limit as usize,
            "claimed more than the limit"
        );
        let mut seen = BTreeSet::new();
        for job in &claimed {
            let Some(&i) = self.index.get(&job.id) else {
                return Err(format!("claimed an unknown job {}", job.id));
            };
            ensure!(seen.insert(i), "job {i} claimed twice in one claim");
            self.check_claimable(i, job, names)?;
            let tracked = &mut self.jobs[i];
            tracked.attempts += 1;
            tracked.token = job.lease_token;
            tracked.running = Some((job.lease_token, self.now + LEASE_SECS));
            ensure!(
                job.attempt == tracked.attempts,
                "job {i} claimed as attempt {} but the test counts {}",
                job.attempt,
                tracked.attempts
            );
            self.held.entry(runner).or_default().push(Held {
                job: i,
                lease: job.lease(),
            });
        }
        if claimed.len() < limit as usize {
            // Liveness: a short claim leaves nothing ready it could take.
            let left = self.listed(Some(JobState::Ready)).await?;
            let left: Vec<usize> = left
                .into_iter()
                .filter(|&i| names.is_none_or(|n| n.contains(&self.jobs[i].channel.name)))
                .filter(|&i| !self.paused.contains(&self.jobs[i].channel.name))
                .collect();
            ensure!(
                left.is_empty(),
                "a claim of {limit} returned {} jobs, leaving ready jobs {left:?}",
                claimed.len()
            );
        }
        self.check_priorities(&claimed).await
    }

    /// Priority: on each channel a claim took jobs from, every job left
    /// ready is of no higher priority than the lowest it took there.
    async fn check_priorities(&self, claimed: &[ClaimedJob]) -> Check {
        let mut lowest: BTreeMap<ChannelKey, i16> = BTreeMap::new();
        for job in claimed {
            let tracked = &self.jobs[self.index[&job.id]];
            ensure!(
                crate::ready_queue::priority_of(job.ready_seq) == tracked.priority,
                "job {} of priority {} was claimed at place {}",
                self.index[&job.id],
                tracked.priority,
                job.ready_seq
            );
            let low = lowest.entry(job.channel()).or_insert(tracked.priority);
            *low = (*low).min(tracked.priority);
        }
        if lowest.is_empty() {
            return Ok(());
        }
        for i in self.listed(Some(JobState::Ready)).await? {
            let job = &self.jobs[i];
            if let Some(&low) = lowest.get(&job.channel) {
                ensure!(
                    job.priority <= low,
                    "a claim took jobs of priority {low} on {:?} and left job {i} of \
                     priority {} ready",
                    job.channel,
                    job.priority
                );
            }
        }
        Ok(())
    }

    /// Whether job `i`, just claimed, could be: live, committed, not held,
    /// and, if ordered, the first of its channel's jobs still holding it.
    fn check_claimable(&self, i: usize, job: &ClaimedJob, names: Option<&[String]>) -> Check {
        let tracked = &self.jobs[i];
        ensure!(
            tracked.fate == Fate::Live,
            "claimed finished job {i} ({:?})",
            tracked.fate
        );
        ensure!(!tracked.uncommitted, "claimed uncommitted job {i}");
        ensure!(
            job.lease_token > tracked.token,
            "job {i}'s lease token went from {} to {}",
            tracked.token,
            job.lease_token
        );
        if let Some((token, until)) = tracked.running {
            return Err(format!(
                "job {i} claimed while it runs under lease {token} until {until}"
            ));
        }
        ensure!(
            names.is_none_or(|n| n.contains(&tracked.channel.name)),
            "claimed job {i} of an unsubscribed channel"
        );
        ensure!(
            !self.paused.contains(&tracked.channel.name),
            "claimed job {i} of paused channel {}",
            tracked.channel.name
        );
        if tracked.ordered
            && let Some(before) = self.holding_before(i)
        {
            return Err(format!(
                "ordered job {i} claimed while job {before} before it still holds the channel"
            ));
        }
        Ok(())
    }

    /// An ordered job spawned before job `i` on its channel that still
    /// holds the channel.
    fn holding_before(&self, i: usize) -> Option<usize> {
        let channel = &self.jobs[i].channel;
        (0..i).find(|&j| {
            let other = &self.jobs[j];
            other.ordered && &other.channel == channel && self.holds(j)
        })
    }

    /// Whether job `j` is live as far as the backend can tell (a two-phase
    /// job past its deadline may have been discarded: the listing says).
    fn holds(&self, j: usize) -> bool {
        self.jobs[j].fate == Fate::Live
    }

    fn pick_held(&mut self, runner: u8, pick: usize) -> Option<Held> {
        let held = self.held.get_mut(&runner)?;
        if held.is_empty() {
            return None;
        }
        let k = pick % held.len();
        Some(held.remove(k))
    }

    async fn complete_one(&mut self, runner: u8, pick: usize, stale: bool) -> Check {
        if stale && !self.stale.is_empty() {
            let held = self.stale[pick % self.stale.len()];
            return self.complete(vec![held]).await;
        }
        match self.pick_held(runner, pick) {
            Some(held) => self.complete(vec![held]).await,
            None => Ok(()),
        }
    }

    async fn complete(&mut self, held: Vec<Held>) -> Check {
        if held.is_empty() {
            return Ok(());
        }
        let leases: Vec<JobLease> = held.iter().map(|h| h.lease).collect();
        let outcomes = self
            .backend
            .job_complete(JobCompleteParams {
                leases: &leases,
                keep_completed: false,
                skip_busy: true,
                now: self.at(),
            })
            .await
            .map_err(|e| format!("job_complete: {e}"))?;
        let outcomes = self.per_lease(&leases, outcomes)?;
        for h in held {
            let current = self.current(&h);
            let outcome = outcomes[&h.lease];
            match (current, outcome) {
                (true, LeaseOutcome::Done) => {
                    let job = &mut self.jobs[h.job];
                    job.running = None;
                    job.fate = Fate::Completed;
                    job.completions += 1;
                    ensure!(job.completions == 1, "job {} completed twice", h.job);
                    if job.ordered {
                        self.completed_order
                            .entry(job.channel.clone())
                            .or_default()
                            .push(h.job);
                    }
                }
                (false, LeaseOutcome::Lost) => {}
                (current, outcome) => {
                    return Err(format!(
                        "completing job {} with a {} lease answered {outcome:?}",
                        h.job,
                        if current { "current" } else { "stale" }
                    ));
                }
            }
            self.stale.push(h);
        }
        Ok(())
    }

    /// Outcomes by lease, checking there is one per lease and none busy.
    fn per_lease<T: Copy + std::fmt::Debug>(
        &self,
        leases: &[JobLease],
        outcomes: Vec<(JobLease, T)>,
    ) -> std::result::Result<HashMap<JobLease, T>, String> {
        ensure!(
            outcomes.len() == leases.len(),
            "{} outcomes for {} leases",
            outcomes.len(),
            leases.len()
        );
        let map: HashMap<JobLease, T> = outcomes.into_iter().collect();
        ensure!(
            leases.iter().all(|l| map.contains_key(l)),
            "an outcome is missing: {map:?}"
        );
        Ok(map)
    }

    async fn fail(&mut self, runner: u8, pick: usize, delay_secs: u8) -> Check {
        let Some(h) = self.pick_held(runner, pick) else {
            return Ok(());
        };
        let outcomes = self
            .backend
            .job_fail(JobFailParams {
                failures: &[JobFailure {
                    lease: h.lease,
                    retry_delay: Duration::from_secs(u64::from(delay_secs)),
                    error: "model",
                }],
                now: self.at(),
            })
            .await
            .map_err(|e| format!("job_fail: {e}"))?;
        let outcome = self.per_lease(&[h.lease], outcomes)?[&h.lease];
        let job = &self.jobs[h.job];
        let expected = if !self.current(&h) {
            JobFailOutcome::LeaseLost
        } else if job.attempts > job.retries {
            JobFailOutcome::Failed
        } else {
            JobFailOutcome::Retrying
        };
        ensure!(
            outcome == expected,
            "failing job {} answered {outcome:?}, not {expected:?}",
            h.job
        );
        if expected != JobFailOutcome::LeaseLost {
            self.jobs[h.job].running = None;
        }
        self.stale.push(h);
        Ok(())
    }

    async fn release(&mut self, held: Vec<Held>) -> Check {
        if held.is_empty() {
            return Ok(());
        }
        let leases: Vec<JobLease> = held.iter().map(|h| h.lease).collect();
        let outcomes = self
            .backend
            .job_release(JobReleaseParams {
                skip_busy: true,
                leases: &leases,
                delay: Duration::ZERO,
                now: self.at(),
            })
            .await
            .map_err(|e| format!("job_release: {e}"))?;
        let outcomes = self.per_lease(&leases, outcomes)?;
        for h in held {
            let expected = if self.current(&h) {
                LeaseOutcome::Done
            } else {
                LeaseOutcome::Lost
            };
            let outcome = outcomes[&h.lease];
            ensure!(
                outcome == expected,
                "releasing job {} answered {outcome:?}, not {expected:?}",
                h.job
            );
            if outcome == LeaseOutcome::Done {
                self.jobs[h.job].attempts -= 1;
                self.jobs[h.job].running = None;
            }
            self.stale.push(h);
        }
        Ok(())
    }

    async fn keep_alive(&mut self, runner: u8) -> Check {
        let held = self.held.get(&runner).cloned().unwrap_or_default();
        if held.is_empty() {
            return Ok(());
        }
        let leases: Vec<JobLease> = held.iter().map(|h| h.lease).collect();
        let outcomes = self
            .backend
            .job_keep_alive(JobKeepAliveParams {
                leases: &leases,
                lease: Duration::from_secs(LEASE_SECS),
                now: self.at(),
            })
            .await
            .map_err(|e| format!("job_keep_alive: {e}"))?;
        let outcomes = self.per_lease(&leases, outcomes)?;
        let mut kept = Vec::new();
        for h in held {
            let alive = self.current(&h);
            let outcome = outcomes[&h.lease];
            let expected = if alive {
                LeaseOutcome::Done
            } else {
                LeaseOutcome::Lost
            };
            ensure!(
                outcome == expected,
                "keeping job {} alive answered {outcome:?}, not {expected:?}",
                h.job
            );
            if alive {
                if let Some((_, until)) = &mut self.jobs[h.job].running {
                    *until = (*until).max(self.now + LEASE_SECS);
                }
                kept.push(h);
            } else {
                self.stale.push(h);
            }
        }
        self.held.insert(runner, kept);
        Ok(())
    }

    async fn advance(&mut self, secs: u64) -> Check {
        self.now += secs;
        self.backend
            .job_schedule(JobScheduleParams {
                now: self.at(),
                settle_ordered: false,
                due_after: None,
            })
            .await
            .map_err(|e| format!("job_schedule: {e}"))?;
        // Lapsed leases are taken back (each counted as an attempt); the
        // runners holding them find them lost.
        let now = self.now;
        for job in &mut self.jobs {
            if job.running.is_some_and(|(_, until)| until <= now) {
                job.running = None;
            }
        }
        let jobs = &self.jobs;
        for held in self.held.values_mut() {
            held.retain(|h| {
                if jobs[h.job].running.is_none() {
                    self.stale.push(*h);
                    false
                } else {
                    true
                }
            });
        }
        Ok(())
    }

    async fn delete(&mut self, pick: usize) -> Check {
        if self.jobs.is_empty() {
            return Ok(());
        }
        let i = pick % self.jobs.len();
        let id = self.jobs[i].id;
        let deleted = self
            .backend
            .job_delete(JobDeleteParams {
                filter: JobFilter {
                    ids: Some(&[id]),
                    ..JobFilter::default()
                },
            })
            .await
            .map_err(|e| format!("job_delete: {e}"))?;
        if deleted == [id] {
            ensure!(
                matches!(self.jobs[i].fate, Fate::Live | Fate::Cancelled),
                "deleted job {i}, which had {:?}",
                self.jobs[i].fate
            );
            self.jobs[i].fate = Fate::Deleted;
            self.jobs[i].uncommitted = false;
            self.jobs[i].running = None;
        } else {
            ensure!(
                self.jobs[i].fate != Fate::Live || self.discardable(i),
                "live job {i} could not be deleted"
            );
        }
        Ok(())
    }

    /// Cancels job `i` (named twice: it must come back once). A live job
    /// is cancelled, unless it failed for good; a running one says so.
    async fn cancel(&mut self, pick: usize) -> Check {
        if self.jobs.is_empty() {
            return Ok(());
        }
        let i = pick % self.jobs.len();
        let id = self.jobs[i].id;
        let outcomes = self
            .backend
            .job_cancel(JobCancelParams {
                ids: &[id, id],
                now: self.at(),
            })
            .await
            .map_err(|e| format!("job_cancel: {e}"))?;
        let job = &mut self.jobs[i];
        let outcome = match outcomes.as_slice() {
            [] => None,
            [(got, outcome)] if *got == id => Some(*outcome),
            other => return Err(format!("cancelling job {i} answered {other:?}")),
        };
        match (job.fate, outcome) {
            (Fate::Live, None) if job.uncommitted && job.commit_deadline <= self.now => {
                job.fate = Fate::Deleted;
                job.uncommitted = false;
            }
            (Fate::Live, Some(CancelOutcome::Finished(JobState::Failed)))
                if job.running.is_none() && job.attempts > job.retries => {}
            (
                Fate::Live,
                Some(outcome @ (CancelOutcome::Cancelled | CancelOutcome::CancelledRunning)),
            ) => {
                let running = job.running.is_some();
                ensure!(
                    running == (outcome == CancelOutcome::CancelledRunning),
                    "cancelling job {i} (running: {running}) answered {outcome:?}"
                );
                job.fate = Fate::Cancelled;
                job.running = None;
                job.uncommitted = false;
            }
            (Fate::Cancelled, Some(CancelOutcome::Finished(JobState::Cancelled))) => {}
            (Fate::Completed | Fate::Deleted, None) => {}
            (fate, outcome) => {
                return Err(format!(
                    "cancelling job {i} ({fate:?}) answered {outcome:?}"
                ));
            }
        }
        Ok(())
    }

    /// Whether job `i` may have been discarded: two-phase, never committed,
    /// its commit interval over.
    fn discardable(&self, i: usize) -> bool {
        let job = &self.jobs[i];
        job.uncommitted && job.commit_deadline <= self.now
    }

    /// Pauses or resumes channel name `c{channel}`; the backend must say
    /// whether that changed anything as the test's record does.
    async fn pause(&mut self, channel: u8, action: PauseAction) -> Check {
        let name = format!("c{channel}");
        let changed = self
            .backend
            .channel_pause(ChannelPauseParams {
                channel_name: &name,
                action,
                now: self.at(),
            })
            .await
            .map_err(|e| format!("channel_pause: {e}"))?;
        let expected = match action {
            PauseAction::Pause => self.paused.insert(name.clone()),
            PauseAction::Resume => self.paused.remove(&name),
        };
        ensure!(
            changed == expected,
            "{action:?} of {name} changed {changed}, the test expected {expected}"
        );
        Ok(())
    }

    async fn fairness(&mut self) -> Check {
        let ready = self.listed(Some(JobState::Ready)).await?;
        let channels: BTreeSet<ChannelKey> = ready
            .iter()
            .map(|&i| self.jobs[i].channel.clone())
            .filter(|channel| !self.paused.contains(&channel.name))
            .collect();
        let mut cursor: Option<ChannelKey> = None;
        let mut served = Vec::new();
        let mut held = Vec::new();
        for _ in 0..channels.len() {
            let claimed = self
                .backend
                .job_claim(JobClaimParams {
                    channel_names: None,
                    limit: 1,
                    lease: Duration::from_secs(LEASE_SECS),
                    after: cursor.as_ref(),
                    targets: None,
                    now: self.at(),
                })
                .await
                .map_err(|e| format!("job_claim: {e}"))?;
            cursor = claim_cursor(cursor.as_ref(), &claimed).or(cursor);
            for job in claimed {
                let i = self.index[&job.id];
                self.check_claimable(i, &job, None)?;
                self.jobs[i].attempts += 1;
                self.jobs[i].token = job.lease_token;
                self.jobs[i].running = Some((job.lease_token, self.now + LEASE_SECS));
                served.push(self.jobs[i].channel.clone());
                held.push(Held {
                    job: i,
                    lease: job.lease(),
                });
            }
        }
        let served_set: BTreeSet<ChannelKey> = served.iter().cloned().collect();
        ensure!(
            served.len() == channels.len() && served_set == channels,
            "one-job claims served {served:?}, not each of {channels:?} once"
        );
        self.release(held).await
    }

    /// The tracked jobs the backend lists (in `state`, or all), as
    /// indexes; an unknown job is an error.
    /// The job holding each unique key, as the backend tells it (its
    /// state, its key); fails if two jobs hold one key.
    async fn key_holders(&self) -> std::result::Result<BTreeMap<String, Uuid>, String> {
        let mut holders = BTreeMap::new();
        for job in &self.jobs {
            let Some(info) = self
                .backend
                .job_get(JobGetParams { id: job.id })
                .await
                .map_err(|e| format!("job_get: {e}"))?
            else {
                continue;
            };
            let finished = matches!(
                info.state,
                JobState::Failed | JobState::Completed | JobState::Cancelled
            );
            if let (Some(key), false) = (info.unique_key, finished)
                && let Some(other) = holders.insert(key.clone(), job.id)
            {
                return Err(format!("jobs {other} and {} both hold key {key}", job.id));
            }
        }
        Ok(holders)
    }

    async fn listed(&self, state: Option<JobState>) -> std::result::Result<Vec<usize>, String> {
        let jobs = self.listing(state).await?;
        Ok(jobs.into_iter().map(|(i, _)| i).collect())
    }

    async fn listing(
        &self,
        state: Option<JobState>,
    ) -> std::result::Result<Vec<(usize, JobState)>, String> {
        let jobs = self
            .backend
            .job_list(JobListParams {
                filter: JobFilter {
                    states: state.as_ref().map(std::slice::from_ref),
                    ..JobFilter::default()
                },
                after: None,
                limit: 100_000,
            })
            .await
            .map_err(|e| format!("job_list: {e}"))?;
        jobs.into_iter()
            .map(|job| match self.index.get(&job.id) {
                Some(&i) => Ok((i, job.state)),
                None => Err(format!("the backend lists an unknown job {}", job.id)),
            })
            .collect()
    }

    /// After every step: every job the backend has is one the test has not
    /// seen finish; every job it lacks finished or was discardable; of
    /// each ordered channel's holding jobs only the first is unblocked.
    async fn check_states(&mut self) -> Check {
        let listed: HashMap<usize, JobState> = self.listing(None).await?.into_iter().collect();
        for (i, job) in self.jobs.iter_mut().enumerate() {
            match (job.fate, listed.get(&i)) {
                (Fate::Live, Some(_)) => {}
                (Fate::Live, None) if job.uncommitted && job.commit_deadline <= self.now => {
                    // Discarded: it never ran and never will.
                    job.fate = Fate::Deleted;
                    job.uncommitted = false;
                }
                (Fate::Live, None) => {
                    return Err(format!("job {i} was lost (it never completed)"));
                }
                (Fate::Cancelled, Some(JobState::Cancelled)) => {}
                (Fate::Cancelled, state) => {
                    return Err(format!("cancelled job {i} is {state:?}"));
                }
                (fate, Some(state)) => {
                    return Err(format!("job {i} ({fate:?}) is still there, {state}"));
                }
                (_, None) => {}
            }
        }
        let mut channels: BTreeMap<&ChannelKey, Vec<usize>> = BTreeMap::new();
        for (i, job) in self.jobs.iter().enumerate() {
            if job.ordered && job.fate == Fate::Live {
                channels.entry(&job.channel).or_default().push(i);
            }
        }
        for (channel, holding) in channels {
            for (place, i) in holding.iter().enumerate() {
                let blocked = listed[i] == JobState::Blocked;
                ensure!(
                    blocked == (place > 0),
                    "ordered job {i} is {} at place {place} of {channel:?} ({holding:?})",
                    listed[i]
                );
            }
        }
        Ok(())
    }

    /// The end of a sequence: the clock far ahead, failed jobs retried, and
    /// everything claimed and completed until nothing is left. Then every
    /// job committed and not deleted completed exactly once, and each
    /// ordered channel's jobs completed in spawn order.
    async fn drain(&mut self) -> Check {
        let _ = writeln!(self.log, "drain");
        for channel in 0..CHANNELS {
            self.pause(channel, PauseAction::Resume).await?;
        }
        for held in std::mem::take(&mut self.held).into_values() {
            self.release(held).await?;
        }
        self.advance(1000).await?;
        self.check_states().await?;
        // Cancelled jobs stay until deleted: prune them, as an operator would.
        let cancelled: Vec<usize> = (0..self.jobs.len())
            .filter(|&i| self.jobs[i].fate == Fate::Cancelled)
            .collect();
        for i in cancelled {
            self.delete(i).await?;
        }
        for round in 0..200 {
            let listed = self.listing(None).await?;
            if listed.is_empty() {
                break;
            }
            ensure!(round < 199, "the queue did not drain: {listed:?}");
            self.step(&Op::RetryFailed).await?;
            self.step(&Op::Claim {
                runner: 0,
                limit: 50,
                filtered: false,
                targeted: round % 2 == 1,
            })
            .await?;
            self.step(&Op::CompleteAll { runner: 0 }).await?;
        }
        for (i, job) in self.jobs.iter().enumerate() {
            match job.fate {
                Fate::Completed => ensure!(
                    job.completions == 1,
                    "job {i} completed {} times",
                    job.completions
                ),
                Fate::Deleted => ensure!(job.completions == 0, "deleted job {i} completed"),
                Fate::Cancelled => return Err(format!("cancelled job {i} was not pruned")),
                Fate::Live => return Err(format!("job {i} never completed")),
            }
        }
        for (channel, order) in &self.completed_order {
            let mut spawned = order.clone();
            spawned.sort_unstable();
            ensure!(
                *order == spawned,
                "ordered jobs of {channel:?} completed as {order:?}"
            );
        }
        Ok(())
    }
}

/// Runs one sequence on a cleared backend, from a clock `base`.
async fn check(
    backend: &dyn Backend,
    base: Clock,
    ops: &[Op],
) -> std::result::Result<(), (String, String)> {
    backend
        .job_clear_all()
        .await
        .map_err(|e| (format!("job_clear_all: {e}"), String::new()))?;
    let mut run = Run {
        backend,
        base,
        now: 0,
        jobs: Vec::new(),
        index: HashMap::new(),
        held: BTreeMap::new(),
        stale: Vec::new(),
        cursors: BTreeMap::new(),
        claimed_until: BTreeMap::new(),
        completed_order: BTreeMap::new(),
        paused: BTreeSet::new(),
        log: String::new(),
    };
    for op in ops {
        if let Err(error) = run.step(op).await {
            return Err((error, run.log));
        }
    }
    run.drain().await.map_err(|error| (error, run.log))
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Random operation sequences keep every invariant (see the module docs).
pub async fn random_operations_keep_every_invariant(backend: &dyn Backend) {
    explore(24, sequence(), |base, ops: Vec<Op>| {
        Box::pin(async move { check(backend, base, &ops).await })
    })
    .await;
}

/// What one generated sequence's check returns on failure: the broken
/// invariant, and the log of the steps taken.
pub(super) type Failure = (String, String);

/// Checks `default_cases` sequences of `strategy` (or `MQ_MODEL_CASES`),
/// each on a clock an hour after the last, so that nothing one left behind
/// is due in the next; shrinks the first failing one and panics with it
/// and its seed (`MQ_MODEL_SEED` replays it).
pub(super) async fn explore<'a, S: Strategy>(
    default_cases: u64,
    strategy: S,
    mut check: impl FnMut(
        Clock,
        S::Value,
    ) -> futures::future::BoxFuture<'a, std::result::Result<(), Failure>>,
) where
    S::Value: std::fmt::Debug,
{
    let cases = env_number("MQ_MODEL_CASES").unwrap_or(default_cases);
    let seed = env_number("MQ_MODEL_SEED").unwrap_or_else(|| {
        // A seed from the clock: each run explores new sequences, and the
        // seed is printed with any failure to replay it.
        OffsetDateTime::now_utc().unix_timestamp_nanos() as u64
    });
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let mut base = Clock::new();
    let mut next_base = || {
        base = Clock(base.0 + Duration::from_secs(3600));
        base
    };
    for case in 0..cases {
        let mut tree = strategy.new_tree(&mut runner).expect("generate a sequence");
        let Err(mut failure) = check(next_base(), tree.current()).await else {
            continue;
        };
        let mut shortest = tree.current();
        // Shrink: simplify while it still fails, complicate back when a
        // simplification passes, until neither moves.
        let mut budget = 2000;
        'shrink: while budget > 0 && tree.simplify() {
            loop {
                budget -= 1;
                match check(next_base(), tree.current()).await {
                    Err(smaller) => {
                        failure = smaller;
                        shortest = tree.current();
                        break;
                    }
                    Ok(()) => {
                        if budget == 0 || !tree.complicate() {
                            break 'shrink;
                        }
                    }
                }
            }
        }
        panic!(
            "model check failed on case {case} of {cases} (MQ_MODEL_SEED={seed}): {}\n\
             shortest sequence: {shortest:#?}\n\
             its log:\n{}",
            failure.0, failure.1
        );
    }
}
