//! The workers' LISTEN connections terminated server-side: they keep
//! draining, then pick notifications up again.

use std::time::Duration;

use anyhow::Result;

use super::{Ctx, PROBE_TIMEOUT, audit_checks, probe};
use crate::client::{Client, Driver};
use crate::db::ScenarioDb;
use crate::fleet::{Fleet, WorkerSpec};
use crate::producer::spawn_batch;
use crate::report::{Report, count, ms, secs, show_slowest, slowest};

/// How long a batch spawned while nobody listens may take to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the workers may take to listen again.
const RELISTEN_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> Result<Report> {
    let rounds = ctx.pick(2, 5);
    let batch = ctx.pick(200, 1000);
    let poll = Duration::from_secs(5);
    let mut report = Report::new(
        super::Scenario::Listen.title(),
        format!(
            "Two worker processes (one per driver; poll interval {}) are idle. {rounds} times: each \
             worker is sent a probe job on a channel only it takes; then both LISTEN connections are \
             ended with `pg_terminate_backend` and {batch} jobs are spawned at once, while nobody \
             listens. Finally each worker is probed again.",
            secs(poll)
        ),
    );
    let db = ScenarioDb::create(true).await?;
    let mut fleet = Fleet::new(db.url(), &ctx.log_dir);
    for driver in [Driver::Sqlx, Driver::TokioPostgres] {
        let mut spec = WorkerSpec::new(driver, Duration::from_secs(10));
        spec.poll = poll;
        fleet.start(spec).await?;
    }
    let client = Client::connect(Driver::Sqlx, db.url(), 2, Duration::from_secs(10)).await?;
    let mut all_ids = Vec::new();
    let mut probe_latencies = Vec::new();
    let mut terminated = Vec::new();
    let mut drain_times = Vec::new();
    let mut relisten_times = Vec::new();
    for round in 0..=rounds {
        let relisten = db.wait_listeners(2, RELISTEN_TIMEOUT).await?;
        if round > 0 {
            relisten_times.push(relisten);
        }
        for worker in &fleet.workers {
            let (id, latency) = probe(&db, &client, worker.incarnation, round as i64).await?;
            all_ids.push(id);
            probe_latencies.push(latency);
        }
        if round == rounds {
            break;
        }
        let ended: i64 = sqlx::query_scalar(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        )
        .fetch_one(&db.pool)
        .await?;
        terminated.push(ended);
        let ids = spawn_batch(&client, batch, 0).await?;
        drain_times.push(db.wait_for(&ids, DRAIN_TIMEOUT).await?);
        all_ids.extend(ids);
    }
    fleet.stop_all().await?;

    let worst_probe = slowest(&probe_latencies);
    report.fact(
        "slowest probe, spawn to start",
        show_slowest(worst_probe, ms, PROBE_TIMEOUT),
    );
    report.fact(
        "LISTEN connections terminated per round",
        terminated
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    );
    let worst_drain = slowest(&drain_times);
    report.fact(
        "slowest drain of a batch spawned with nobody listening",
        show_slowest(worst_drain, secs, DRAIN_TIMEOUT),
    );
    let worst_relisten = slowest(&relisten_times);
    report.fact(
        "slowest return of both LISTEN connections",
        show_slowest(worst_relisten, secs, RELISTEN_TIMEOUT),
    );
    let audit = db.audit(&all_ids).await?;
    audit_checks(&mut report, &audit);
    report.check(
        terminated.iter().all(|&n| n == 2),
        format!(
            "both LISTEN connections were terminated in every round ({} rounds)",
            count(rounds as i64)
        ),
    );
    report.check(
        worst_drain.is_some_and(|d| d <= poll + Duration::from_secs(5)),
        format!("every batch spawned while nobody listened was drained within the poll interval + 5 s ({})", secs(poll + Duration::from_secs(5))),
    );
    report.check(
        worst_relisten.is_some(),
        "the workers re-opened their LISTEN connections on their own",
    );
    report.check(
        worst_probe.is_some_and(|d| d < Duration::from_secs(1)),
        format!(
            "every probe, before and after each termination, started within 1 s (the poll interval is {}): notifications were picked up again",
            secs(poll)
        ),
    );
    Ok(report)
}
