//! Scenario 10 (mq's own): spawning jobs with unique keys.
//!
//! The same jobs are spawned without keys, then with keys of which none,
//! half or all are already held (by jobs spawned beforehand, untimed): one
//! job per call from concurrent producers, and in batches from one. A
//! duplicate inserts nothing, so what a key costs shows in the rows with
//! 0 % duplicates, and what finding the holder costs in the others.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use mq::JobBuilder;

use super::{Ctx, reset};
use crate::recorder::Payload;
use crate::report::{Column, Table, Unit, thousands};
use crate::systems::System;
use crate::systems::mq::MqSystem;

/// The shares of duplicates measured, in percent; `None`: no keys.
const SHARES: [Option<u32>; 4] = [None, Some(0), Some(50), Some(100)];

/// The table of scenario 10.
pub fn table(ctx: &Ctx) -> Table {
    let s = &ctx.sizes;
    let mut table = Table::new(
        format!(
            "10. Unique keys: {} jobs one per call from {} producers, and {} in batches of {} from one",
            thousands(s.unique_single as i64),
            s.producers,
            thousands(s.unique_batch as i64),
            thousands(s.batch as i64)
        ),
        vec![
            Column::new("one per call, jobs/s", Unit::Rate),
            Column::new("batched, jobs/s", Unit::Rate),
        ],
    );
    table.note("every job of a row with keys has its own key; the share of duplicates is the share of those keys already held, by jobs spawned beforehand (untimed), so that a spawn of one of them inserts nothing and returns the holder's id; *no key* spawns the same jobs without keys; every run checks how many jobs were inserted");
    table.note("mq only: the other systems' unique jobs differ in what they guarantee (River's and pg-boss's hold per state or period, graphile-worker's replace), so they are left out rather than compared unlike with like");
    table
}

/// Runs every share for `system`, one row each.
pub async fn run(ctx: &Ctx, system: &Arc<dyn System>, table: &mut Table) -> Result<()> {
    let mq = super::mq_only(system)?;
    for share in SHARES {
        let single = timed(ctx, system, mq, share, ctx.sizes.unique_single, 1).await?;
        let batched = timed(
            ctx,
            system,
            mq,
            share,
            ctx.sizes.unique_batch,
            ctx.sizes.batch,
        )
        .await?;
        let variant = match share {
            None => "no key".to_owned(),
            Some(percent) => format!("{percent} % duplicates"),
        };
        table.add(system.kind(), &variant, &[Some(single), Some(batched)]);
    }
    Ok(())
}

/// Spawns `total` jobs with (or, for `share` `None`, without) keys, `share`
/// percent of them already held, in batches of `batch` (one job per call
/// from the scenario's producers when `batch` is 1). Returns jobs per
/// second.
async fn timed(
    ctx: &Ctx,
    system: &Arc<dyn System>,
    mq: &MqSystem,
    share: Option<u32>,
    total: usize,
    batch: usize,
) -> Result<f64> {
    reset(system).await?;
    let held = share.map_or(0, |percent| total * percent as usize / 100);
    for chunk in (0..held).collect::<Vec<_>>().chunks(ctx.sizes.batch) {
        let builders = chunk
            .iter()
            .map(|&n| builder(n, share.is_some()))
            .collect::<Result<Vec<_>>>()?;
        mq.spawn_builders(&builders).await?;
    }
    crate::db::settle(system.admin_pool(), system.tables()).await?;

    let producers = if batch == 1 {
        ctx.sizes.producers.max(1)
    } else {
        1
    };
    let start = Instant::now();
    let tasks: Vec<_> = (0..producers)
        .map(|p| {
            let system = system.clone();
            let keyed = share.is_some();
            tokio::spawn(async move {
                let mq = super::mq_only(&system)?;
                let mut first = p * batch;
                while first < total {
                    let builders = (first..(first + batch).min(total))
                        .map(|n| builder(n, keyed))
                        .collect::<Result<Vec<_>>>()?;
                    mq.spawn_builders(&builders).await?;
                    first += producers * batch;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let elapsed = start.elapsed().as_secs_f64();
    // Without keys, the held jobs were spawned again as new ones.
    let expected = if share.is_some() { total } else { total + held };
    let pending = system.pending().await?;
    if pending != expected as i64 {
        bail!("expected {expected} jobs in the queue, found {pending}");
    }
    Ok(total as f64 / elapsed)
}

/// Job `n` of the scenario, with the key `n` when `keyed`.
fn builder(n: usize, keyed: bool) -> Result<JobBuilder> {
    let mut builder = JobBuilder::new("bench");
    builder
        .set_channel_name("unique")
        .set_json(&Payload::new(n as u32))?;
    if keyed {
        builder.set_unique_key(n.to_string());
    }
    Ok(builder)
}
