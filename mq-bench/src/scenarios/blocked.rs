//! Scenario 6b (mq's own, not in issue 5): one busy channel beside many
//! ordered channels held by a job that failed for good.
//!
//! Such a channel has nothing a claim can take: the job behind its failed
//! head is blocked, out of the index claims read. So a runner draining the
//! busy channel should go about as fast as scenario 3's default drain on an
//! otherwise empty queue; if claims kept visiting the held channels, it
//! would not.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mq::{JobBuilder, JobState};

use super::drain::timed_drain;
use super::{Ctx, payloads, prefill_with, reset};
use crate::recorder::Payload;
use crate::report::{Column, Table, Unit, thousands};
use crate::systems::mq::MqSystem;
use crate::systems::{Profile, System, SystemKind};

/// The table of scenario 6b.
pub fn table(ctx: &Ctx) -> Table {
    let s = &ctx.sizes;
    let mut table = Table::new(
        format!(
            "6b. Drain {} jobs on one channel beside {} blocked ordered channels (default settings)",
            thousands(s.drain as i64),
            thousands(s.blocked_channels as i64)
        ),
        vec![Column::new("jobs/s", Unit::Rate)],
    );
    table.note(format!(
        "each of the {} ordered channels holds a job that failed for good (retries 0) with one more ordered job blocked behind it; the drained channel's name sorts in the middle of theirs ({}), so a claim walking channels in order meets held channels before and after it; every run checks that the held channels are untouched afterwards",
        thousands(s.blocked_channels as i64),
        free_channel(s.blocked_channels)
    ));
    table.note("mq only (sqlxmq, river and raw are skipped): river has no ordered channels, and what this measures is mq's claim passing over channels held by a failed job, against mq's own drain in table 3 rather than against the peers");
    table
}

/// Adds to `table` the ratio of each mq driver's figure to its default
/// drain in `drain` (scenario 3's table, if that ran before this one).
pub fn compare(table: &mut Table, drain: Option<&Table>) {
    let Some(drain) = drain else {
        table.note("drain (scenario 3) did not run before this in the same run: compare jobs/s with table 3's default rows of another run (the target is 0.80× of them or more)");
        return;
    };
    for kind in SystemKind::ALL.into_iter().filter(|k| k.is_mq()) {
        // Column 0 of table 3 is its jobs/s.
        let theirs = drain.median(kind, "default", 0);
        table.compare_with(kind, "default", "table 3", vec![theirs]);
    }
    table.note("*÷ table 3* rows: each driver's jobs/s here over its own default drain in table 3 (as many jobs, one runner with default settings, no held channels); the target is within 20 %, 0.80× or more");
}

/// The name of blocked channel `i` (from 1), zero-padded so that names
/// sort in numeric order.
fn channel_name(i: u32, channels: u32) -> String {
    let width = channels.to_string().len().max(4);
    format!("blocked-{i:0width$}")
}

/// The drained channel's name: right after the middle blocked channel's,
/// so that half of them sort before it and half after.
fn free_channel(channels: u32) -> String {
    format!("{}x", channel_name(channels / 2, channels))
}

/// Resets the queue and holds `blocked_channels` ordered channels with a
/// failed job each, fills the free channel with `drain` jobs, and times one
/// runner with default settings draining it.
pub async fn run(ctx: &Ctx, system: &Arc<dyn System>, table: &mut Table) -> Result<()> {
    let mq = super::mq_only(system)?;
    let channels = ctx.sizes.blocked_channels;
    let jobs = ctx.sizes.drain;
    let names: Vec<String> = (1..=channels).map(|i| channel_name(i, channels)).collect();

    reset(system).await?;
    eprintln!(
        "    holding {} ordered channels with failed jobs",
        thousands(channels as i64)
    );
    block_channels(ctx, mq, &names, jobs as u32).await?;
    check_blocked(mq, &names)
        .await
        .context("setting up the held channels")?;

    let free = free_channel(channels);
    prefill_with(ctx, system, &payloads(jobs), |chunk| {
        mq.preload_on_channel(&free, chunk)
    })
    .await?;
    let (_, start, end) = timed_drain(ctx, system, Profile::Default, jobs, jobs).await?;
    check_blocked(mq, &names)
        .await
        .context("after the drain (which should have left the held channels alone)")?;

    table.add(
        system.kind(),
        "default",
        &[Some(jobs as f64 / (end - start).as_secs_f64())],
    );
    Ok(())
}

/// Spawns an ordered job and one more behind it on each channel of
/// `names`, with no retries, then fails each channel's first job for good
/// with a runner that drops every job it gets. The jobs are numbered from
/// `first`, past the drained jobs: should the timed runner ever get one,
/// its recorder reports a job that is not of its run, and the repetition
/// fails.
async fn block_channels(ctx: &Ctx, mq: &MqSystem, names: &[String], first: u32) -> Result<()> {
    let channels = names.len() as u32;
    // First jobs, then the ones behind them, each in spawn order: every
    // second job is spawned after its channel's first, so it starts
    // blocked.
    for position in 0..2 {
        let builders = names
            .iter()
            .zip(0..)
            .map(|(name, i)| {
                let mut builder = JobBuilder::new("bench");
                builder
                    .set_json(&Payload::new(first + position * channels + i))?
                    .set_channel_name(name)
                    .set_ordered(true)
                    .set_retries(0);
                Ok(builder)
            })
            .collect::<Result<Vec<_>>>()?;
        for chunk in builders.chunks(ctx.sizes.batch) {
            mq.spawn_builders(chunk).await?;
        }
    }

    // A dropped job counts as a failed attempt; with no retries left, the
    // job fails for good and keeps holding its channel.
    let mut runner = mq.runner(drop).run().await?;
    let waited = wait_failed(ctx, mq, channels).await;
    runner.stop().await;
    runner.wait_jobs_finish(Duration::from_secs(30)).await;
    waited
}

/// Waits until `channels` jobs have failed.
async fn wait_failed(ctx: &Ctx, mq: &MqSystem, channels: u32) -> Result<()> {
    let deadline = Instant::now() + ctx.stall();
    loop {
        let failed = mq.stats().await?.total(JobState::Failed);
        if failed >= u64::from(channels) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "only {failed} of the {channels} first jobs failed within {:?}",
                ctx.stall()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Checks that each channel of `names` holds exactly one failed job and
/// one blocked job, and that no other channel has jobs.
async fn check_blocked(mq: &MqSystem, names: &[String]) -> Result<()> {
    let stats = mq.stats().await?;
    let mut found: BTreeMap<&str, Vec<(JobState, u64)>> =
        names.iter().map(|n| (n.as_str(), Vec::new())).collect();
    for row in &stats.counts {
        found
            .entry(row.channel_name.as_str())
            .or_default()
            .push((row.state, row.count));
    }
    let wrong: Vec<String> = found
        .iter()
        .filter(|(_, states)| {
            !(states.len() == 2
                && states.contains(&(JobState::Failed, 1))
                && states.contains(&(JobState::Blocked, 1)))
        })
        .map(|(name, states)| {
            let states: Vec<String> = states
                .iter()
                .map(|(state, count)| format!("{count} {}", state.as_str()))
                .collect();
            if states.is_empty() {
                format!("{name:?}: no jobs")
            } else {
                format!("{name:?}: {}", states.join(", "))
            }
        })
        .collect();
    if !wrong.is_empty() {
        bail!(
            "expected each of {} channels to hold one failed job and one blocked job, and no other jobs; {} channels differ (first: {})",
            names.len(),
            wrong.len(),
            wrong[..wrong.len().min(5)].join("; ")
        );
    }
    Ok(())
}
