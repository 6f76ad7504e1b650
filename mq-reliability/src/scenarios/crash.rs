//! Workers killed with SIGKILL, one after another, while producers spawn
//! and the other workers carry on.

use std::time::Duration;

use anyhow::{Result, ensure};

use super::{Ctx, audit_checks, interrupted_checks};
use crate::client::{Client, Driver};
use crate::db::ScenarioDb;
use crate::fleet::{Fleet, WorkerSpec};
use crate::producer::{Load, produce};
use crate::report::{Report, count, secs};

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> Result<Report> {
    let workers = ctx.pick(3, 4);
    let load = Load {
        rate: ctx.pick(150.0, 300.0),
        duration: ctx.pick(Duration::from_secs(12), Duration::from_secs(120)),
        max_work_ms: 200,
    };
    let kill_every = ctx.pick(Duration::from_millis(1500), Duration::from_secs(3));
    let lease = Duration::from_secs(2);
    let mut report = Report::new(
        super::Scenario::Crash.title(),
        format!(
            "{workers} worker processes (sqlx and tokio-postgres alternately; lease {}, concurrency 8..16) \
             run jobs of 0–{} ms that write their side effect in the transaction that completes them \
             (`complete_with_transaction`). Producers spawn {} jobs/s for {}; every {} the harness \
             kills the next worker with SIGKILL and starts a new one in its place.",
            secs(lease),
            load.max_work_ms,
            load.rate,
            secs(load.duration),
            secs(kill_every),
        ),
    );
    let db = ScenarioDb::create(true).await?;
    let mut fleet = Fleet::new(db.url(), &ctx.log_dir);
    fleet
        .start_alternating(workers, WorkerSpec::new(Driver::Sqlx, lease))
        .await?;
    let wait = Duration::from_secs(10);
    let clients = Client::both(db.url(), 4, wait).await?;
    let producing = tokio::spawn(async move { produce(&clients, load).await });
    let mut slot = 0;
    while !producing.is_finished() {
        tokio::time::sleep(kill_every).await;
        if producing.is_finished() {
            break;
        }
        fleet.replace(slot % workers).await?;
        slot += 1;
    }
    let ledger = producing.await??;
    ensure!(
        ledger.failed.is_empty(),
        "spawns failed: {:?}",
        ledger.sample_errors
    );
    let drained = db
        .wait_for(&ledger.acknowledged, Duration::from_secs(120))
        .await?;
    fleet.stop_all().await?;

    report.fact("workers killed", count(fleet.kills.len() as i64));
    match drained {
        Some(d) => report.fact("drained after the last spawn in", secs(d)),
        None => report.fact("drained after the last spawn in", "not within 120 s"),
    }
    let audit = db.audit(&ledger.acknowledged).await?;
    audit_checks(&mut report, &audit);
    let interrupted = db.interrupted(&fleet.kills).await?;
    interrupted_checks(&mut report, &interrupted, lease, Duration::from_secs(1));
    Ok(report)
}
