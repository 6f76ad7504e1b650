//! Scenarios 1 and 2: how fast jobs go in.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};

use super::{Ctx, reset};
use crate::cpu::CpuMeter;
use crate::recorder::Payload;
use crate::report::{Column, Table, Unit};
use crate::systems::System;

/// The table of scenario 1.
pub fn single_table(ctx: &Ctx) -> Table {
    let s = &ctx.sizes;
    let mut table = Table::new(
        format!(
            "1. Enqueue, one job per call: {} jobs from {} concurrent producers",
            crate::report::thousands(s.enqueue_single as i64),
            s.producers
        ),
        vec![
            Column::new("jobs/s", Unit::Rate),
            Column::new("mq-bench CPU (cores)", Unit::Cores),
            Column::new("PostgreSQL CPU (cores)", Unit::Cores),
        ],
    );
    table.note(super::drain::CPU_NOTE);
    table
}

/// The table of scenario 2.
pub fn batch_table(ctx: &Ctx) -> Table {
    let s = &ctx.sizes;
    Table::new(
        format!(
            "2. Enqueue in batches of {}: {} jobs, one producer",
            crate::report::thousands(s.batch as i64),
            crate::report::thousands(s.enqueue_batch as i64)
        ),
        vec![Column::new("jobs/s", Unit::Rate)],
    )
}

async fn check_pending(system: &Arc<dyn System>, expected: usize) -> Result<()> {
    let pending = system.pending().await?;
    if pending != expected as i64 {
        bail!("spawned {expected} jobs but {pending} are in the queue");
    }
    Ok(())
}

/// Scenario 1: `producers` tasks spawn one job per call, each its own
/// transaction, until `enqueue_single` jobs are in.
pub async fn single(ctx: &Ctx, system: &Arc<dyn System>, table: &mut Table) -> Result<()> {
    let total = ctx.sizes.enqueue_single;
    let producers = ctx.sizes.producers.max(1);
    reset(system).await?;
    let meter = CpuMeter::start(crate::cpu::server_pid(system.admin_pool()).await);
    let start = Instant::now();
    let tasks: Vec<_> = (0..producers)
        .map(|p| {
            let system = system.clone();
            tokio::spawn(async move {
                let mut n = p;
                while n < total {
                    system.spawn_one(&Payload::new(n as u32)).await?;
                    n += producers;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = meter.stop();
    check_pending(system, total).await?;
    table.add(
        system.kind(),
        "default",
        &[Some(total as f64 / elapsed), cpu.bench, cpu.server],
    );
    Ok(())
}

/// Scenario 2: one producer spawns `enqueue_batch` jobs in batches of
/// `batch` through the system's batch API.
pub async fn batch(ctx: &Ctx, system: &Arc<dyn System>, table: &mut Table) -> Result<()> {
    let total = ctx.sizes.enqueue_batch;
    reset(system).await?;
    let start = Instant::now();
    let mut n = 0;
    while n < total {
        let end = (n + ctx.sizes.batch).min(total);
        let jobs: Vec<Payload> = (n..end).map(|i| Payload::new(i as u32)).collect();
        system.spawn_batch(&jobs).await?;
        n = end;
    }
    let elapsed = start.elapsed().as_secs_f64();
    check_pending(system, total).await?;
    table.add(system.kind(), "default", &[Some(total as f64 / elapsed)]);
    table.note(format!("{}: {}", system.kind(), system.batch_api()));
    Ok(())
}
