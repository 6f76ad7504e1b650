//! Ordered channels while the workers holding their head jobs are killed.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::{Ctx, audit_checks, interrupted_checks};
use crate::client::{Client, Driver};
use crate::db::ScenarioDb;
use crate::fleet::{Fleet, WorkerSpec};
use crate::report::{Report, count, secs};
use crate::task::{ORDERED_CHANNEL, Task, builder, work_ms};

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> Result<Report> {
    let channels = ctx.pick(6, 20);
    let per_channel = ctx.pick(30, 150);
    let workers = 3;
    let kill_every = ctx.pick(Duration::from_secs(1), Duration::from_secs(2));
    let max_kills = ctx.pick(8, 40);
    let lease = Duration::from_millis(1500);
    let max_work_ms = 200;
    let mut report = Report::new(
        super::Scenario::Ordered.title(),
        format!(
            "{channels} ordered channels × {per_channel} jobs of 0–{max_work_ms} ms, spawned in order, \
             run by {workers} worker processes (both drivers; lease {}) of which one is killed with \
             SIGKILL every {} (at most {max_kills} kills) until the queue is empty. A job's start \
             and its completion are both recorded with the server's clock.",
            secs(lease),
            secs(kill_every),
        ),
    );
    let db = ScenarioDb::create(true).await?;
    let client = Client::connect(Driver::Sqlx, db.url(), 2, Duration::from_secs(10)).await?;
    let mut ids = Vec::new();
    for seq in 0..per_channel {
        let builders = (0..channels)
            .map(|channel| {
                let n = (channel * per_channel + seq) as i64;
                let task = Task::new(seq as i64, work_ms(n, max_work_ms));
                builder(ORDERED_CHANNEL, &format!("c{channel}"), true, &task)
            })
            .collect::<mq::Result<Vec<_>>>()?;
        ids.extend(client.spawn_many(&builders).await?);
    }

    let mut fleet = Fleet::new(db.url(), &ctx.log_dir);
    fleet
        .start_alternating(workers, WorkerSpec::new(Driver::Sqlx, lease))
        .await?;
    let started = Instant::now();
    let mut slot = 0;
    while db.done_count(&ids).await? < ids.len() as i64 && fleet.kills.len() < max_kills {
        tokio::time::sleep(kill_every).await;
        fleet.replace(slot % workers).await?;
        slot += 1;
    }
    let drained = db.wait_for(&ids, Duration::from_secs(180)).await?;
    fleet.stop_all().await?;

    report.fact("workers killed", count(fleet.kills.len() as i64));
    report.fact(
        "queue drained in",
        drained.map_or("not within 180 s".into(), |_| secs(started.elapsed())),
    );
    let audit = db.audit(&ids).await?;
    audit_checks(&mut report, &audit);
    let (pairs, violations) = db.order_violations().await?;
    report.fact("consecutive pairs checked", count(pairs));
    report.check(
        pairs == (channels * (per_channel - 1)) as i64 && violations == 0,
        format!(
            "on every channel, each job started only after the one before it had committed its completion \
             ({} of {} pairs out of order)",
            count(violations),
            count(pairs)
        ),
    );
    let interrupted = db.interrupted(&fleet.kills).await?;
    interrupted_checks(&mut report, &interrupted, lease, Duration::from_secs(1));
    Ok(report)
}
