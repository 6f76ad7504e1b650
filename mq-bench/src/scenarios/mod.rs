//! The scenarios of issue 5, and mq's own, each runnable by name.
//!
//! A scenario builds one [`Table`]; [`Scenario::run_once`] runs one
//! repetition of it for one system and adds that system's rows.

pub mod blocked;
pub mod drain;
pub mod enqueue;
pub mod held_xmin;
pub mod latency;
pub mod limits;
pub mod multiprocess;
pub mod ordered;
pub mod priority;
pub mod unique;

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use futures::StreamExt;

use crate::recorder::Payload;
use crate::report::Table;
use crate::systems::{Config, System, SystemKind};

/// A scenario, by the name used on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// 1: one job per call, from concurrent producers.
    EnqueueSingle,
    /// 2: batches through the batch API.
    EnqueueBatch,
    /// 3: drain a pre-filled queue, default and tuned settings.
    Drain,
    /// 4: drain a deep backlog; rate by depth, memory, bloat.
    Backlog,
    /// 5: spawn-to-start and spawn-to-completion latency at steady rates.
    Latency,
    /// 6: many ordered channels.
    Ordered,
    /// 6b (not in issue 5): drain one channel beside many ordered channels
    /// held by failed jobs, which a claim must not keep visiting.
    Blocked,
    /// 7: several runner processes on one queue.
    Multiprocess,
    /// 8 (not in issue 5): a steady load while a long transaction holds
    /// the xmin horizon, minute by minute; long, so run only when named
    /// (or in the smoke test, at tiny durations).
    HeldXmin,
    /// 9 (not in issue 5): jobs of high priority spawned behind a backlog
    /// of one channel, each of which should start at once.
    Priority,
    /// 10 (not in issue 5): spawning with unique keys, none, half or all
    /// of them already held.
    Unique,
    /// 11 (not in issue 5): channel limits across processes: a limited
    /// channel's slots kept busy and never exceeded, and what a limit that
    /// does not bind costs a drain.
    Limits,
}

impl Scenario {
    /// Every scenario, in issue 5's order, with `blocked` after the
    /// ordered channels it builds on (and after `drain`, which its figures
    /// are compared with), and `held-xmin` last: what `--quick` runs.
    pub const ALL: [Scenario; 12] = [
        Scenario::EnqueueSingle,
        Scenario::EnqueueBatch,
        Scenario::Drain,
        Scenario::Backlog,
        Scenario::Latency,
        Scenario::Ordered,
        Scenario::Blocked,
        Scenario::Multiprocess,
        Scenario::Priority,
        Scenario::Unique,
        Scenario::Limits,
        Scenario::HeldXmin,
    ];

    /// What a run without `--scenarios` runs: [`ALL`](Self::ALL) but
    /// `held-xmin`, which takes 21 minutes per system at its full sizes.
    pub const DEFAULT: [Scenario; 11] = [
        Scenario::EnqueueSingle,
        Scenario::EnqueueBatch,
        Scenario::Drain,
        Scenario::Backlog,
        Scenario::Latency,
        Scenario::Ordered,
        Scenario::Blocked,
        Scenario::Multiprocess,
        Scenario::Priority,
        Scenario::Unique,
        Scenario::Limits,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::EnqueueSingle => "enqueue-single",
            Scenario::EnqueueBatch => "enqueue-batch",
            Scenario::Drain => "drain",
            Scenario::Backlog => "backlog",
            Scenario::Latency => "latency",
            Scenario::Ordered => "ordered",
            Scenario::Blocked => "blocked",
            Scenario::Multiprocess => "multiprocess",
            Scenario::HeldXmin => "held-xmin",
            Scenario::Priority => "priority",
            Scenario::Unique => "unique",
            Scenario::Limits => "limits",
        }
    }

    /// Whether `kind` takes part in this scenario (the table's notes say
    /// why a system does not).
    pub fn runs(self, kind: SystemKind) -> bool {
        match self {
            Scenario::Blocked | Scenario::Priority | Scenario::Unique | Scenario::Limits => {
                kind.is_mq()
            }
            Scenario::HeldXmin => kind.is_mq() || kind == SystemKind::Raw,
            _ => true,
        }
    }

    /// A new, empty table for this scenario.
    pub fn table(self, ctx: &Ctx) -> Table {
        match self {
            Scenario::EnqueueSingle => enqueue::single_table(ctx),
            Scenario::EnqueueBatch => enqueue::batch_table(ctx),
            Scenario::Drain => drain::drain_table(ctx),
            Scenario::Backlog => drain::backlog_table(ctx),
            Scenario::Latency => latency::table(ctx),
            Scenario::Ordered => ordered::table(ctx),
            Scenario::Blocked => blocked::table(ctx),
            Scenario::Multiprocess => multiprocess::table(ctx),
            Scenario::HeldXmin => held_xmin::table(ctx),
            Scenario::Priority => priority::table(ctx),
            Scenario::Unique => unique::table(ctx),
            Scenario::Limits => limits::table(ctx),
        }
    }

    /// Completes `table` once all its repetitions ran, with what compares
    /// it with `earlier`: the tables of the scenarios run before it.
    pub fn compare(self, table: &mut Table, earlier: &[(Scenario, Table)]) {
        if self == Scenario::Blocked {
            let drain = earlier.iter().find(|(s, _)| *s == Scenario::Drain);
            blocked::compare(table, drain.map(|(_, t)| t));
        }
    }

    /// Runs one repetition for `system`, adding its rows to `table`.
    pub async fn run_once(
        self,
        ctx: &Ctx,
        system: &Arc<dyn System>,
        table: &mut Table,
    ) -> Result<()> {
        match self {
            Scenario::EnqueueSingle => enqueue::single(ctx, system, table).await,
            Scenario::EnqueueBatch => enqueue::batch(ctx, system, table).await,
            Scenario::Drain => drain::drain(ctx, system, table).await,
            Scenario::Backlog => drain::backlog(ctx, system, table).await,
            Scenario::Latency => latency::run(ctx, system, table).await,
            Scenario::Ordered => ordered::run(ctx, system, table).await,
            Scenario::Blocked => blocked::run(ctx, system, table).await,
            Scenario::Multiprocess => multiprocess::run(ctx, system, table).await,
            Scenario::HeldXmin => held_xmin::run(ctx, system, table).await,
            Scenario::Priority => priority::run(ctx, system, table).await,
            Scenario::Unique => unique::run(ctx, system, table).await,
            Scenario::Limits => limits::run(ctx, system, table).await,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match Scenario::ALL.iter().find(|k| k.name() == s) {
            Some(k) => Ok(*k),
            None => bail!(
                "unknown scenario {s:?}; known: {}",
                Scenario::ALL.map(|k| k.name()).join(", ")
            ),
        }
    }
}

/// Job counts and durations of every scenario.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Scenario 1: jobs, and concurrent producers.
    pub enqueue_single: usize,
    /// Scenario 1: concurrent producers.
    pub producers: usize,
    /// Scenario 2: jobs.
    pub enqueue_batch: usize,
    /// Scenario 2 (and every pre-fill): jobs per batch.
    pub batch: usize,
    /// Scenario 3: jobs.
    pub drain: usize,
    /// Scenario 3: systems that drain only this many of the queue's jobs
    /// (a peer whose default drain would take minutes); the rate is theirs
    /// over those jobs, from a queue of the full size.
    pub drain_caps: Vec<(SystemKind, usize)>,
    /// Scenario 4: jobs in the backlog.
    pub backlog: usize,
    /// Scenario 4: systems that drain only this many jobs of the backlog
    /// (the slow peers); their whole-drain figures are extrapolated.
    pub backlog_caps: Vec<(SystemKind, usize)>,
    /// Scenario 4: repetitions (the backlog is slow to fill; defaults to
    /// the repetitions of the other scenarios).
    pub backlog_reps: Option<usize>,
    /// Scenario 5: seconds of steady load per rate.
    pub latency_secs: f64,
    /// Scenario 5: the rates, in jobs per second.
    pub latency_rates: Vec<u32>,
    /// Scenario 6: ordered channels, and jobs per channel.
    pub ordered_channels: u32,
    /// Scenario 6: jobs per channel.
    pub ordered_per_channel: u32,
    /// Scenario 6b: ordered channels held by a failed job (beside one free
    /// channel of `drain` jobs).
    pub blocked_channels: u32,
    /// Scenario 7: jobs.
    pub multiprocess_jobs: usize,
    /// Scenario 7: runner processes.
    pub processes: usize,
    /// Scenario 8: the steady spawn rate, in jobs per second.
    pub held_xmin_rate: u32,
    /// Scenario 8: minutes of each phase: warm-up, xmin held, released
    /// (fractions allowed).
    pub held_xmin_minutes: [f64; 3],
    /// Scenario 8: seconds per row (the last of a phase may be shorter).
    pub held_xmin_bucket_secs: f64,
    /// Scenario 9: ready jobs of priority 0 in the backlog.
    pub priority_backlog: usize,
    /// Scenario 9: urgent jobs spawned behind it, one at a time.
    pub priority_samples: usize,
    /// Scenario 9: milliseconds between two urgent jobs.
    pub priority_interval_ms: u64,
    /// Scenario 10: jobs spawned one per call.
    pub unique_single: usize,
    /// Scenario 10: jobs spawned in batches.
    pub unique_batch: usize,
    /// Scenario 11: the concurrency limit of the channel whose jobs take
    /// a while (its backlog is worked through by `processes` processes).
    pub limit_concurrency: u32,
    /// Scenario 11: how long each of those jobs takes, in milliseconds.
    pub limit_job_ms: u64,
    /// Scenario 11: seconds of ramp-up left out of the measurement (the
    /// runners start, learn of the limit and fill its slots).
    pub limit_warmup_secs: f64,
    /// Scenario 11: seconds measured after the ramp-up.
    pub limit_steady_secs: f64,
    /// Scenario 11: jobs in each drain, limited or not.
    pub limit_drain: usize,
}

impl Sizes {
    /// How many of the backlog's jobs `kind` drains in scenario 4.
    pub fn backlog_cap(&self, kind: SystemKind) -> usize {
        cap_of(&self.backlog_caps, kind, self.backlog)
    }

    /// How many of the drain's jobs `kind` drains in scenario 3.
    pub fn drain_cap(&self, kind: SystemKind) -> usize {
        cap_of(&self.drain_caps, kind, self.drain)
    }

    /// Issue 5's sizes.
    pub fn full() -> Self {
        Sizes {
            // Long enough (seconds) that a start-up hiccup is not the figure.
            enqueue_single: 40_000,
            producers: 16,
            enqueue_batch: 100_000,
            batch: 1_000,
            // Large enough that mq's drain takes seconds, not half of one.
            drain: 200_000,
            // River's default client fetches every second, graphile-worker's
            // runs one job at a time: 200,000 jobs would take 7 to 15
            // minutes per repetition.
            drain_caps: vec![(SystemKind::River, 20_000), (SystemKind::Graphile, 20_000)],
            backlog: 1_000_000,
            backlog_caps: vec![
                (SystemKind::Sqlxmq, 100_000),
                (SystemKind::River, 100_000),
                (SystemKind::Graphile, 100_000),
            ],
            backlog_reps: None,
            latency_secs: 10.0,
            latency_rates: vec![500, 5_000],
            ordered_channels: 100,
            ordered_per_channel: 100,
            blocked_channels: 1_000,
            multiprocess_jobs: 20_000,
            processes: 4,
            held_xmin_rate: 1_000,
            held_xmin_minutes: [1.0, 10.0, 10.0],
            held_xmin_bucket_secs: 60.0,
            priority_backlog: 100_000,
            priority_samples: 100,
            priority_interval_ms: 10,
            unique_single: 20_000,
            unique_batch: 100_000,
            // The figure: 40 at a time, 1 s each, about 40 jobs/s,
            // over a window long enough (some 1,600 jobs) that the
            // sampling's and the ramp's edges are not the figure.
            limit_concurrency: 40,
            limit_job_ms: 1_000,
            limit_warmup_secs: 2.0,
            limit_steady_secs: 40.0,
            // Seconds per drain, as in scenario 7.
            limit_drain: 100_000,
        }
    }

    /// Tiny sizes for the smoke test: every path, in seconds.
    pub fn quick() -> Self {
        Sizes {
            enqueue_single: 320,
            producers: 16,
            enqueue_batch: 2_000,
            batch: 1_000,
            drain: 1_000,
            drain_caps: vec![(SystemKind::River, 500), (SystemKind::Graphile, 500)],
            backlog: 2_000,
            backlog_caps: vec![
                (SystemKind::Sqlxmq, 1_000),
                (SystemKind::River, 1_000),
                (SystemKind::Graphile, 1_000),
            ],
            backlog_reps: None,
            latency_secs: 0.5,
            latency_rates: vec![100, 500],
            ordered_channels: 10,
            ordered_per_channel: 10,
            blocked_channels: 20,
            multiprocess_jobs: 1_000,
            processes: 4,
            // 9 s per system, so that the path does not rot unseen.
            held_xmin_rate: 200,
            held_xmin_minutes: [0.05, 0.05, 0.05],
            held_xmin_bucket_secs: 1.0,
            priority_backlog: 2_000,
            priority_samples: 10,
            priority_interval_ms: 5,
            unique_single: 200,
            unique_batch: 2_000,
            // Also 40 jobs/s at most, in a few seconds.
            limit_concurrency: 8,
            limit_job_ms: 200,
            limit_warmup_secs: 1.5,
            limit_steady_secs: 3.0,
            limit_drain: 1_000,
        }
    }
}

/// The last cap `caps` gives `kind`, never more than `total`.
fn cap_of(caps: &[(SystemKind, usize)], kind: SystemKind, total: usize) -> usize {
    caps.iter()
        .rev()
        .find(|(k, _)| *k == kind)
        .map_or(total, |(_, cap)| (*cap).min(total))
}

/// Everything a scenario needs besides the system.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Connection settings.
    pub config: Config,
    /// Job counts.
    pub sizes: Sizes,
}

impl Ctx {
    /// How long a run may go without a single completion before it is
    /// declared stuck.
    pub fn stall(&self) -> Duration {
        Duration::from_secs(60)
    }
}

/// The mq system behind `system`, for the scenarios only mq's drivers run.
pub fn mq_only(system: &Arc<dyn System>) -> Result<&crate::systems::mq::MqSystem> {
    match system.as_mq() {
        Some(mq) => Ok(mq),
        None => bail!(
            "{} is not mq: only mq's drivers run this scenario",
            system.kind()
        ),
    }
}

/// Payloads numbered `0..count`, unordered.
pub fn payloads(count: usize) -> Vec<Payload> {
    (0..count as u32).map(Payload::new).collect()
}

/// Fills `system`'s queue with `jobs` (untimed, four batches at a time,
/// in order when they are ordered), then vacuums, analyzes and checkpoints
/// so that the timed part starts from a settled database.
pub async fn prefill(ctx: &Ctx, system: &Arc<dyn System>, jobs: &[Payload]) -> Result<()> {
    prefill_with(ctx, system, jobs, |chunk| system.preload(chunk)).await
}

/// [`prefill`], inserting each batch with `preload` instead of the
/// system's own preload (to put the jobs somewhere in particular), on top
/// of the jobs the queue already holds.
pub async fn prefill_with<'a, F, Fut>(
    ctx: &Ctx,
    system: &Arc<dyn System>,
    jobs: &'a [Payload],
    preload: F,
) -> Result<()>
where
    F: FnMut(&'a [Payload]) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let before = system.pending().await?;
    let ordered = jobs.iter().any(|j| j.ord.is_some());
    let parallel = if ordered { 1 } else { 4 };
    let results: Vec<Result<()>> = futures::stream::iter(jobs.chunks(ctx.sizes.batch))
        .map(preload)
        .buffered(parallel)
        .collect()
        .await;
    results.into_iter().collect::<Result<()>>()?;
    let pending = system.pending().await? - before;
    if pending != jobs.len() as i64 {
        bail!(
            "pre-filled {} jobs but {pending} more are pending",
            jobs.len()
        );
    }
    crate::db::settle(system.admin_pool(), system.tables()).await
}

/// Empties `system`'s queue and settles the database.
pub async fn reset(system: &Arc<dyn System>) -> Result<()> {
    system.reset().await?;
    crate::db::settle(system.admin_pool(), system.tables()).await
}
