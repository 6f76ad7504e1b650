//! Scenario 11 (mq's own): channel limits across processes.
//!
//! A limit should be a ceiling and, in practice, nearly a floor: a channel
//! limited to so many jobs at once, whose jobs take a while, never has
//! more running in any sample of the database, and keeps its slots busy
//! while a backlog waits, so that it completes about limit ÷ duration jobs
//! a second. Several runner processes share the limit, each learning of a
//! slot freed by another only through its own claims, so they are what
//! this runs (the workers of scenario 7, whose jobs here take a while).
//!
//! A limit that does not bind should cost little: the same short jobs are
//! drained from one channel with no limit and then limited to 1,000 at
//! once (more than the runners hold), by one runner and by the worker
//! processes, in the same repetition, so that what differs is the limited
//! claims' path alone (a lock of the limit's row, a count of what runs,
//! a row in `mq_limit_claims` per job started).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use mq::admin::ChannelLimit;
use tokio::time::MissedTickBehavior;

use super::drain::timed_drain;
use super::held_xmin::HeldXmin;
use super::multiprocess::{self, Workers};
use super::{Ctx, Sizes, payloads, prefill_with, reset};
use crate::report::{Column, Table, Unit, thousands};
use crate::systems::mq::MqSystem;
use crate::systems::{Profile, System};

/// The channel of every job of the scenario (limited or not).
const CHANNEL: &str = "limited";

/// The limit of the drains: more than the runners hold at once (128 each
/// by default, 512 across 4 processes), so that it never binds.
const DRAIN_LIMIT: u32 = 1_000;

/// How often the running jobs are counted.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// The table's columns, in order.
const JOBS_PER_SEC: usize = 0;
const RATIO: usize = 1;
const RUNNING_MEAN: usize = 2;
const RUNNING_MAX: usize = 3;

/// The table of scenario 11.
pub fn table(ctx: &Ctx) -> Table {
    let s = &ctx.sizes;
    let processes = s.processes.max(1);
    let limit = s.limit_concurrency;
    let mut table = Table::new(
        format!(
            "11. Channel limits: {processes} runner processes on a channel limited to {limit} jobs at once, each job taking {}; drains of {} jobs that do nothing, limited to {} at once or not",
            duration_text(s.limit_job_ms),
            thousands(s.limit_drain as i64),
            thousands(DRAIN_LIMIT as i64)
        ),
        vec![
            Column::new("jobs/s", Unit::Rate),
            Column::new("ratio", Unit::Ratio),
            Column::new("running mean", Unit::Mean),
            Column::new("running max", Unit::Count),
        ],
    );
    table.note(format!(
        "*{}*: a backlog of {} jobs on one channel limited to {limit} running at once (`ChannelLimit::set_concurrency`, set with `admin::set_limit` before the runners start), each job's handler sleeping {} before completing it; {processes} worker processes with default settings (concurrency 64..128 each, so that only the limit holds them back). Measured over {} s after the first {} s: jobs/s from the jobs completed (rows gone from mq_jobs) between the window's first and last samples; ratio: jobs/s over the most the limit allows, {limit} ÷ {} = {} jobs/s; running: the channel's jobs in state running (claimed and not yet settled), counted in mq_jobs every {} ms (not through mq's own accounting), mean over the window, max over the whole run from the runners' start; a sample above the limit fails the scenario",
        held_variant(s),
        thousands(held_backlog(s) as i64),
        duration_text(s.limit_job_ms),
        s.limit_steady_secs,
        s.limit_warmup_secs,
        duration_text(s.limit_job_ms),
        thousands(ideal_rate(s).round() as i64),
        SAMPLE_EVERY.as_millis()
    ));
    table.note(format!(
        "target (*{}*): {} jobs/s within 10 % (ratio 0.90× or more), {limit} at a time (running max {limit}, running mean near it)",
        held_variant(s),
        thousands(ideal_rate(s).round() as i64)
    ));
    table.note(format!(
        "*unlimited* and *limit {}* rows: {} jobs that do nothing drained from one channel by one runner with default settings, and by {processes} worker processes with default settings each, first with no limit on the channel, then with the channel limited to {} at once, more than the runners hold (so that it never binds, and what differs is the limited claims' path); every drain checks that each job ran exactly once; ratio: the limited drain's jobs/s over the unlimited one's, of the same repetition",
        thousands(DRAIN_LIMIT as i64),
        thousands(s.limit_drain as i64),
        thousands(DRAIN_LIMIT as i64)
    ));
    table.note(format!(
        "target (*limit {}* rows): within 20 % of the unlimited drain (ratio 0.80× or more)",
        thousands(DRAIN_LIMIT as i64)
    ));
    table.note(format!(
        "*{}* rows: the same drains, each while a separate connection to the system's database holds a REPEATABLE READ transaction open from before the runners start to after the last job (as in scenario 8), so that vacuum removes none of the rows the drain leaves dead: what a limited claim walks then is what it cannot skip",
        HELD.trim_start_matches(", ")
    ));
    table.note("mq only: what this measures is mq's limits across processes, whether they hold and what they cost against mq's own unlimited runs, rather than against the peers");
    table
}

/// What the rows of drains made while the xmin horizon was held say.
const HELD: &str = ", xmin held";

/// Runs the limited backlog, then the drains, for `system`.
pub async fn run(ctx: &Ctx, system: &Arc<dyn System>, table: &mut Table) -> Result<()> {
    let mq = super::mq_only(system)?;
    at_the_limit(ctx, system, mq, table).await?;
    let processes = ctx.sizes.processes.max(1);
    for held in [false, true] {
        drains(ctx, system, mq, None, held, table).await?;
        drains(ctx, system, mq, Some(processes), held, table).await?;
    }
    Ok(())
}

/// `ms` as `1 s` when whole seconds, else as `200 ms`.
fn duration_text(ms: u64) -> String {
    if ms >= 1_000 && ms.is_multiple_of(1_000) {
        format!("{} s", ms / 1_000)
    } else {
        format!("{ms} ms")
    }
}

/// The row of the limited backlog.
fn held_variant(s: &Sizes) -> String {
    format!(
        "limit {}, {} jobs, {} processes",
        s.limit_concurrency,
        duration_text(s.limit_job_ms),
        s.processes.max(1)
    )
}

/// The most jobs a second the limit allows: limit ÷ duration.
fn ideal_rate(s: &Sizes) -> f64 {
    s.limit_concurrency as f64 / (s.limit_job_ms.max(1) as f64 / 1_000.0)
}

/// The backlog of the limited channel: what the limit lets through
/// during the ramp-up and the window, and 3 jobs' durations more, so that
/// ready jobs still wait at the window's end (checked).
fn held_backlog(s: &Sizes) -> usize {
    let seconds = s.limit_warmup_secs + s.limit_steady_secs;
    let durations = seconds * 1_000.0 / s.limit_job_ms.max(1) as f64;
    s.limit_concurrency as usize * (durations.ceil() as usize + 3)
}

/// One count of the limited channel's jobs.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// Halfway through the query that counted.
    at: Instant,
    /// Jobs in state running: claimed, not yet completed.
    running: i64,
    /// Jobs not yet completed (running or ready).
    left: i64,
}

/// Counts the channel's running jobs, and those left, in one snapshot.
async fn sample(system: &Arc<dyn System>) -> Result<Sample> {
    let before = Instant::now();
    let (running, left): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state = 'running'), count(*) FROM mq_jobs WHERE channel_name = $1",
    )
    .bind(CHANNEL)
    .fetch_one(system.admin_pool())
    .await?;
    let after = Instant::now();
    Ok(Sample {
        at: before + (after - before) / 2,
        running,
        left,
    })
}

/// The limited backlog: fills the limited channel, starts the worker
/// processes, samples the channel until the window's end, stops them and
/// checks what ran.
async fn at_the_limit(
    ctx: &Ctx,
    system: &Arc<dyn System>,
    mq: &MqSystem,
    table: &mut Table,
) -> Result<()> {
    let s = &ctx.sizes;
    let limit = s.limit_concurrency;
    let processes = s.processes.max(1);
    let jobs = held_backlog(s);
    let warmup = Duration::from_secs_f64(s.limit_warmup_secs);
    let steady = Duration::from_secs_f64(s.limit_steady_secs);
    reset(system).await?;
    mq.set_limit(&ChannelLimit::new(CHANNEL).set_concurrency(limit)?)
        .await?;
    prefill_with(ctx, system, &payloads(jobs), |chunk| {
        mq.preload_on_channel(CHANNEL, chunk)
    })
    .await?;

    let mut workers = Workers::start(
        ctx,
        system,
        processes,
        jobs,
        Some(Duration::from_millis(s.limit_job_ms)),
    )
    .await?;
    workers.go().await?;
    let start = Instant::now();
    let end = start + warmup + steady;
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let sample = sample(system).await?;
                samples.push(sample);
                if sample.at >= end {
                    break;
                }
            }
            // The workers' progress reports, read so that a failed worker
            // fails the run; the figures come from the samples.
            progress = workers.progress() => {
                progress?;
            }
        }
    }
    let ran = workers.stop().await?;

    // Every job that ran, ran once, and is gone from the queue.
    let runs = multiprocess::run_counts(jobs, &ran)?;
    let twice = runs.iter().filter(|&&c| c > 1).count();
    if twice > 0 {
        bail!("{twice} jobs ran more than once");
    }
    let completed: usize = ran.iter().map(Vec::len).sum();
    let left = system.pending().await?;
    if completed as i64 != jobs as i64 - left {
        bail!(
            "the workers ran {completed} jobs, but {} left the queue",
            jobs as i64 - left
        );
    }

    let window: Vec<&Sample> = samples
        .iter()
        .filter(|sample| sample.at >= start + warmup)
        .collect();
    let (Some(first), Some(last)) = (window.first(), window.last()) else {
        bail!("no sample in the window");
    };
    if window.len() < 2 {
        bail!("one sample in the window");
    }
    if last.left <= last.running {
        bail!(
            "the backlog ran out before the window's end ({} jobs left, {} of them running): make it larger",
            last.left,
            last.running
        );
    }
    let seconds = (last.at - first.at).as_secs_f64();
    let rate = (first.left - last.left) as f64 / seconds;
    let mean = window.iter().map(|s| s.running as f64).sum::<f64>() / window.len() as f64;
    let peak = samples
        .iter()
        .max_by_key(|sample| sample.running)
        .copied()
        .expect("samples were taken");
    let over = samples
        .iter()
        .filter(|sample| sample.running > limit as i64)
        .count();
    let mut values = [None; 4];
    values[JOBS_PER_SEC] = Some(rate);
    values[RATIO] = Some(rate / ideal_rate(s));
    values[RUNNING_MEAN] = Some(mean);
    values[RUNNING_MAX] = Some(peak.running as f64);
    table.add(system.kind(), &held_variant(s), &values);
    if over > 0 {
        bail!(
            "{over} of {} samples counted more than {limit} jobs running on the channel limited to {limit}: at most {} ({:.2} s after the runners' start)",
            samples.len(),
            peak.running,
            (peak.at - start).as_secs_f64()
        );
    }
    if first.left == last.left {
        bail!(
            "no job of the limited channel completed in the {:.1} s window ({} running at its end, {} left)",
            seconds,
            last.running,
            last.left
        );
    }
    Ok(())
}

/// Drains the channel unlimited, then limited to [`DRAIN_LIMIT`], with one
/// runner (`processes` `None`) or with that many worker processes, each
/// drain while a transaction holds the xmin horizon back if `held`; adds
/// a row for each.
async fn drains(
    ctx: &Ctx,
    system: &Arc<dyn System>,
    mq: &MqSystem,
    processes: Option<usize>,
    held: bool,
    table: &mut Table,
) -> Result<()> {
    let jobs = ctx.sizes.limit_drain;
    let mut who = match processes {
        None => "1 runner".to_owned(),
        Some(n) => format!("{n} processes"),
    };
    if held {
        who.push_str(HELD);
    }
    let url = crate::db::with_database(&ctx.config.server_url, system.kind().database())?;
    let mut rates = Vec::new();
    for limited in [false, true] {
        reset(system).await?;
        if limited {
            mq.set_limit(&ChannelLimit::new(CHANNEL).set_concurrency(DRAIN_LIMIT)?)
                .await?;
        }
        prefill_with(ctx, system, &payloads(jobs), |chunk| {
            mq.preload_on_channel(CHANNEL, chunk)
        })
        .await?;
        let holder = if held {
            Some(HeldXmin::begin(&url, system.admin_pool()).await?)
        } else {
            None
        };
        let seconds = match processes {
            None => {
                let (_, start, end) =
                    timed_drain(ctx, system, Profile::Default, jobs, jobs).await?;
                (end - start).as_secs_f64()
            }
            Some(n) => multiprocess::drain(ctx, system, n, jobs).await?.0,
        };
        if let Some(holder) = holder {
            holder.release().await?;
        }
        let pending = system.pending().await?;
        if pending != 0 {
            bail!("{pending} jobs still pending after the drain");
        }
        rates.push(jobs as f64 / seconds);
    }
    mq.remove_limit(CHANNEL).await?;
    let (unlimited, limited) = (rates[0], rates[1]);
    let mut values = [None; 4];
    values[JOBS_PER_SEC] = Some(unlimited);
    table.add(system.kind(), &format!("unlimited, {who}"), &values);
    values[JOBS_PER_SEC] = Some(limited);
    values[RATIO] = Some(limited / unlimited);
    table.add(
        system.kind(),
        &format!("limit {}, {who}", thousands(DRAIN_LIMIT as i64)),
        &values,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_seconds_when_whole() {
        assert_eq!(duration_text(1_000), "1 s");
        assert_eq!(duration_text(200), "200 ms");
        assert_eq!(duration_text(1_500), "1500 ms");
    }

    #[test]
    fn the_backlog_outlasts_the_window_and_the_drain_limit_never_binds() {
        for s in [Sizes::full(), Sizes::quick()] {
            // What the limit lets through by the window's end, and what
            // then runs: the ready jobs left must be more than none.
            let through = ideal_rate(&s) * (s.limit_warmup_secs + s.limit_steady_secs);
            let most = through + s.limit_concurrency as f64;
            assert!(held_backlog(&s) as f64 > most, "{s:?}");
            assert!((ideal_rate(&s) - 40.0).abs() < 1e-9, "{s:?}");
            // mq's runners hold 128 jobs at most by default.
            assert!(DRAIN_LIMIT as usize > 128 * s.processes.max(1), "{s:?}");
        }
    }
}
