//! Scenario 5: latency from spawn to start and to completion, at steady
//! spawn rates.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tokio::sync::Semaphore;

use super::{Ctx, reset};
use crate::recorder::{Payload, Recorder};
use crate::report::{Column, Table, Unit, thousands};
use crate::stats::percentile;
use crate::systems::{RunnerOptions, System};

/// Spawns in flight at once at most: a producer that cannot keep up with
/// the rate falls behind (the achieved rate says so) instead of piling up
/// connections. (Scenario 8's producer uses the same bound.)
pub const MAX_IN_FLIGHT: usize = 64;

/// The table of scenario 5.
pub fn table(ctx: &Ctx) -> Table {
    let mut columns = vec![Column::new("spawned jobs/s", Unit::Rate)];
    for what in ["start", "done"] {
        for p in ["p50", "p95", "p99", "max"] {
            columns.push(Column::new(format!("{what} {p} ms"), Unit::Millis));
        }
    }
    let mut table = Table::new(
        format!(
            "5. Latency at a steady rate, {} s per rate, one runner with default settings",
            ctx.sizes.latency_secs
        ),
        columns,
    );
    table.note("start: from right before the spawn call to the job's handler starting; done: to its completion being durable (mq, sqlxmq: `complete()` returned; river: its JobCompleted event; raw: the batch's DELETE committed; graphile-worker: its task returned, as it sends the completion without waiting for it to commit)");
    table.note(format!(
        "one job per spawn call, at most {MAX_IN_FLIGHT} spawns in flight"
    ));
    table
}

/// Runs each rate for `latency_secs` against a runner started beforehand.
pub async fn run(ctx: &Ctx, system: &Arc<dyn System>, table: &mut Table) -> Result<()> {
    for &rate in &ctx.sizes.latency_rates {
        reset(system).await?;
        let jobs = ((rate as f64) * ctx.sizes.latency_secs).round().max(1.0) as usize;
        let recorder = Arc::new(Recorder::new(jobs).with_latencies());
        let runner = system
            .start_runner(RunnerOptions::default_settings(), recorder.clone())
            .await?;
        // Let the runner reach its idle state (listening, first poll done).
        tokio::time::sleep(Duration::from_millis(500)).await;

        let produced = produce(system, rate, jobs).await;
        let waited = match &produced {
            Ok(_) => recorder.wait_completed(jobs, ctx.stall()).await,
            Err(_) => Ok(()),
        };
        runner.stop().await?;
        let spawn_seconds = produced?;
        waited?;
        recorder.check(false)?;

        let (start, done) = recorder.latencies_ms();
        if start.len() != jobs || done.len() != jobs {
            bail!(
                "latencies of {} starts and {} completions for {jobs} jobs",
                start.len(),
                done.len()
            );
        }
        let mut values = vec![Some(jobs as f64 / spawn_seconds)];
        for sorted in [&start, &done] {
            for p in [50.0, 95.0, 99.0, 100.0] {
                values.push(percentile(sorted, p));
            }
        }
        table.add(
            system.kind(),
            &format!("{} jobs/s", thousands(rate as i64)),
            &values,
        );
    }
    Ok(())
}

/// Spawns `jobs` jobs at `rate` per second, each stamped right before its
/// spawn call. Returns the seconds from the first spawn to the last one's
/// return.
async fn produce(system: &Arc<dyn System>, rate: u32, jobs: usize) -> Result<f64> {
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let start = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tasks = Vec::with_capacity(jobs);
    for n in 0..jobs {
        tokio::time::sleep_until((start + interval * n as u32).into()).await;
        let permit = permits.clone().acquire_owned().await?;
        let system = system.clone();
        tasks.push(tokio::spawn(async move {
            let result = system.spawn_one(&Payload::new(n as u32)).await;
            drop(permit);
            result
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(start.elapsed().as_secs_f64())
}
