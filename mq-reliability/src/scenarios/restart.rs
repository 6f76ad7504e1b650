//! PostgreSQL restarted, in fast and immediate mode, while workers run
//! and producers spawn.

use std::time::Duration;

use anyhow::Result;

use super::{Ctx, PROBE_TIMEOUT, audit_checks, probe};
use crate::client::{Client, Driver};
use crate::db::ScenarioDb;
use crate::fleet::{Fleet, WorkerSpec};
use crate::producer::{Load, produce};
use crate::report::{Report, count, ms, secs, show_slowest, slowest};
use crate::server::{PG_CTL_VAR, Shutdown};
use crate::task::now_epoch;

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> Result<Report> {
    let restarts = ctx.pick(2, 6);
    let every = ctx.pick(Duration::from_secs(5), Duration::from_secs(15));
    let load = Load {
        rate: ctx.pick(100.0, 200.0),
        duration: every * (restarts + 1),
        max_work_ms: 50,
    };
    let lease = Duration::from_secs(3);
    // Long, so that a probe started within a second can only have been
    // woken by a notification.
    let poll = Duration::from_secs(10);
    let mut report = Report::new(
        super::Scenario::Restart.title(),
        format!(
            "Two worker processes (one per driver; lease {}, poll interval {}) run jobs of 0–{} ms \
             while producers spawn {} jobs/s, one per call, for {}. Every {} the server is restarted, \
             alternately with `pg_ctl restart -m fast` and `-m immediate` ({restarts} restarts). Then \
             each worker is sent probe jobs on a channel only it takes.",
            secs(lease),
            secs(poll),
            load.max_work_ms,
            load.rate,
            secs(load.duration),
            secs(every),
        ),
    );
    let Some(server) = ctx.server.clone() else {
        report.skipped = Some(format!(
            "the harness does not control the server: run it through scripts/reliability.sh \
             without DATABASE_URL (it starts its own PostgreSQL), or set {PG_CTL_VAR} to the \
             pg_ctl command line (with -D and -l) of the server at DATABASE_URL."
        ));
        return Ok(report);
    };
    let db = ScenarioDb::create(true).await?;
    let mut fleet = Fleet::new(db.url(), &ctx.log_dir);
    for driver in [Driver::Sqlx, Driver::TokioPostgres] {
        let mut spec = WorkerSpec::new(driver, lease);
        spec.poll = poll;
        fleet.start(spec).await?;
    }
    let wait = Duration::from_secs(2);
    let clients = Client::both(db.url(), 4, wait).await?;
    let producing = tokio::spawn(async move { produce(&clients, load).await });
    let mut back_at = Vec::new();
    for i in 0..restarts {
        tokio::time::sleep(every).await;
        let mode = if i % 2 == 0 {
            Shutdown::Fast
        } else {
            Shutdown::Immediate
        };
        let down = server.restart(mode).await?;
        back_at.push((mode, now_epoch(), down));
    }
    let ledger = producing.await??;
    let drained = db
        .wait_for(&ledger.acknowledged, Duration::from_secs(120))
        .await?;

    for (mode, _, down) in &back_at {
        report.fact(
            format!("`pg_ctl restart -m {}` took", mode.name()),
            secs(*down),
        );
    }
    // Recovery: from the server being back to each driver's first
    // completion after it.
    let mut worst_recovery = 0.0f64;
    let mut missing_recovery = 0;
    for (i, (mode, at, _)) in back_at.iter().enumerate() {
        for worker in &fleet.workers {
            let first: Option<f64> = sqlx::query_scalar(
                "SELECT extract(epoch FROM min(at))::float8 FROM rel_effects
                 WHERE incarnation = $1 AND at > to_timestamp($2)",
            )
            .bind(worker.incarnation)
            .bind(at)
            .fetch_one(&db.pool)
            .await?;
            let recovery = first.map(|t| t - at);
            match recovery {
                Some(r) => worst_recovery = worst_recovery.max(r),
                None => missing_recovery += 1,
            }
            report.fact(
                format!(
                    "restart {} ({}): {} worker's first completion after the server was back",
                    i + 1,
                    mode.name(),
                    worker.spec.driver.name()
                ),
                recovery.map_or("none".into(), |r| format!("{r:.3} s")),
            );
        }
    }
    let last_back = back_at.last().map_or(0.0, |(_, at, _)| *at);
    let spawned_after = ledger
        .acknowledged_at
        .iter()
        .filter(|&&t| t > last_back)
        .count();
    report.fact(
        "spawn calls that returned an error",
        count(ledger.failed.len() as i64),
    );
    if let Some(error) = ledger.sample_errors.first() {
        report.fact(
            "a spawn error, as the caller saw it",
            format!("`{}`", error.replace('|', "/")),
        );
    }
    report.fact(
        "drained after the last spawn in",
        drained.map_or("not within 120 s".into(), secs),
    );

    let listening = db.wait_listeners(2, Duration::from_secs(30)).await?;
    let mut probe_latencies = Vec::new();
    let probe_client = Client::connect(Driver::Sqlx, db.url(), 1, wait).await?;
    let mut probe_ids = Vec::new();
    for worker in &fleet.workers {
        for n in 0..3 {
            let (id, latency) = probe(&db, &probe_client, worker.incarnation, n).await?;
            probe_ids.push(id);
            probe_latencies.push(latency);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    db.wait_for(&probe_ids, Duration::from_secs(30)).await?;
    fleet.stop_all().await?;
    let worst_probe = slowest(&probe_latencies);
    report.fact(
        "slowest probe, spawn to start",
        show_slowest(worst_probe, ms, PROBE_TIMEOUT),
    );

    let mut acknowledged = ledger.acknowledged.clone();
    acknowledged.extend(&probe_ids);
    let audit = db.audit(&acknowledged).await?;
    audit_checks(&mut report, &audit);
    report.fact(
        "spawns that returned an error but had committed (each ran once)",
        count(audit.unacknowledged_completed as i64),
    );
    report.check(
        audit.unacknowledged_completed <= ledger.failed.len(),
        "every job that ran was spawned by a call that either returned its id or returned an error",
    );
    report.check(
        spawned_after > 0,
        format!(
            "producers spawned again after the last restart without being restarted themselves ({} spawns)",
            count(spawned_after as i64)
        ),
    );
    report.check(
        missing_recovery == 0 && worst_recovery < 15.0,
        format!(
            "both workers completed jobs within 15 s of every restart (worst {worst_recovery:.3} s)"
        ),
    );
    report.check(
        listening.is_some(),
        "both workers' LISTEN connections were open again after the restarts",
    );
    report.check(
        worst_probe.is_some_and(|d| d < Duration::from_secs(2)),
        format!(
            "each worker started every probe within 2 s (its poll interval is {}): LISTEN was re-established",
            secs(poll)
        ),
    );
    Ok(report)
}
