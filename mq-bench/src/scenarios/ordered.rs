//! Scenario 6: many ordered channels, drained by one runner; the order in
//! each channel is checked on the way.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;

use super::{Ctx, prefill, reset};
use crate::recorder::{Payload, Recorder, now_us};
use crate::report::{Column, Table, Unit};
use crate::systems::{Profile, RunnerOptions, System};

/// The table of scenario 6.
pub fn table(ctx: &Ctx) -> Table {
    let s = &ctx.sizes;
    let mut table = Table::new(
        format!(
            "6. {} ordered channels × {} jobs, one runner with default settings",
            s.ordered_channels, s.ordered_per_channel
        ),
        vec![
            Column::new("jobs/s", Unit::Rate),
            Column::new("drain s", Unit::Seconds),
        ],
    );
    table.note("every run checks that each channel's jobs start in spawn order, one at a time; a violation fails the benchmark for mq and the raw floor, and is reported here for the other queues");
    table.note("river has no ordered channels: one queue per channel with one worker each stands in for them");
    table.note("raw claims the head of every channel whose head is free: `WHERE id IN (SELECT min(id) ... GROUP BY channel)`");
    table
}

/// Pre-fills the channels, interleaved (job 0 of every channel, then job
/// 1...), and times one runner draining them.
pub async fn run(ctx: &Ctx, system: &Arc<dyn System>, table: &mut Table) -> Result<()> {
    let channels = ctx.sizes.ordered_channels;
    let per_channel = ctx.sizes.ordered_per_channel;
    let jobs: Vec<Payload> = (0..per_channel)
        .flat_map(|position| {
            (0..channels).map(move |channel| Payload {
                n: position * channels + channel,
                t: now_us(),
                ord: Some((channel, position)),
            })
        })
        .collect();
    reset(system).await?;
    prefill(ctx, system, &jobs).await?;

    let recorder = Arc::new(Recorder::new(jobs.len()).with_ordered_channels(channels));
    let start = Instant::now();
    let runner = system
        .start_runner(
            RunnerOptions {
                profile: Profile::Default,
                ordered_channels: Some(channels),
                claim_times: None,
                job_duration: None,
            },
            recorder.clone(),
        )
        .await?;
    let waited = recorder.wait_completed(jobs.len(), ctx.stall()).await;
    let seconds = start.elapsed().as_secs_f64();
    runner.stop().await?;
    waited?;
    recorder.check(false)?;
    table.add(
        system.kind(),
        "default",
        &[Some(jobs.len() as f64 / seconds), Some(seconds)],
    );
    Ok(())
}
