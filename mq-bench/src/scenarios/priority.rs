//! Scenario 9 (mq's own): an urgent job behind a backlog.
//!
//! A channel holds a backlog of ready jobs of priority 0 and a runner with
//! default settings is working through it; jobs of priority 10 are then
//! spawned on the same channel, one at a time. Each should start within
//! one claim of its spawn, not after the backlog: the table gives the
//! spawn-to-start latency of the urgent jobs, and how much of the backlog
//! was still ready when the last one started (the backlog has to outlast
//! the measurement for it to mean anything).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::{Ctx, payloads, prefill_with, reset};
use crate::recorder::{Payload, Recorder};
use crate::report::{Column, Table, Unit, thousands};
use crate::stats::percentile;
use crate::systems::{RunnerOptions, System};

/// The channel of the backlog and of the urgent jobs.
const CHANNEL: &str = "backlog";

/// The urgent jobs' priority (the backlog's is 0).
const URGENT: i16 = 10;

/// The table of scenario 9.
pub fn table(ctx: &Ctx) -> Table {
    let s = &ctx.sizes;
    let mut columns = Vec::new();
    for p in ["p50", "p95", "p99", "max"] {
        columns.push(Column::new(format!("start {p} ms"), Unit::Millis));
    }
    columns.push(Column::new("backlog left", Unit::Count));
    let mut table = Table::new(
        format!(
            "9. Priority: {} jobs of priority {URGENT} spawned one by one behind {} ready jobs of priority 0 on the same channel",
            s.priority_samples,
            thousands(s.priority_backlog as i64)
        ),
        columns,
    );
    table.note(format!(
        "one runner with default settings drains the backlog (jobs that do nothing); once it is under way, an urgent job is spawned every {} ms; start: from right before its spawn call to its handler starting; backlog left: the backlog's jobs not yet started when the last urgent job started",
        s.priority_interval_ms
    ));
    table.note("mq only: priorities within a channel, and a busy runner's targeted claims reaching them, are what this measures; the target is a p99 within 50 ms");
    table
}

/// Fills the backlog, starts a runner, and spawns the urgent jobs while it
/// works through the backlog.
pub async fn run(ctx: &Ctx, system: &Arc<dyn System>, table: &mut Table) -> Result<()> {
    let mq = super::mq_only(system)?;
    let backlog = ctx.sizes.priority_backlog;
    let samples = ctx.sizes.priority_samples;
    reset(system).await?;
    prefill_with(ctx, system, &payloads(backlog), |chunk| {
        mq.preload_on_channel(CHANNEL, chunk)
    })
    .await?;

    let recorder = Arc::new(Recorder::new(backlog + samples).with_latencies());
    let runner = system
        .start_runner(RunnerOptions::default_settings(), recorder.clone())
        .await?;
    let produced = async {
        // Under way: the runner has claimed from the backlog, so that its
        // claims already start past the jobs it took.
        let deadline = Instant::now() + ctx.stall();
        while recorder.started_count() < 1_000.min(backlog / 10) {
            if Instant::now() > deadline {
                bail!("the runner did not start on the backlog");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let interval = Duration::from_millis(ctx.sizes.priority_interval_ms);
        for i in 0..samples {
            let payload = Payload::new((backlog + i) as u32);
            mq.spawn_with_priority(CHANNEL, URGENT, &payload).await?;
            tokio::time::sleep(interval).await;
        }
        Ok(())
    }
    .await;
    let waited = match &produced {
        Ok(()) => {
            recorder
                .wait_started_range(backlog..backlog + samples, ctx.stall())
                .await
        }
        Err(_) => Ok(()),
    };
    let left = backlog.saturating_sub(recorder.started_count().saturating_sub(samples));
    runner.stop().await?;
    produced?;
    waited?;

    let start = recorder.start_latencies_ms(backlog..backlog + samples);
    if start.len() != samples {
        bail!("{} urgent jobs started of {samples}", start.len());
    }
    let mut values: Vec<Option<f64>> = [50.0, 95.0, 99.0, 100.0]
        .into_iter()
        .map(|p| percentile(&start, p))
        .collect();
    values.push(Some(left as f64));
    table.add(system.kind(), "default", &values);
    Ok(())
}
