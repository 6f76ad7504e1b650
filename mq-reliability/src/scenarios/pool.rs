//! A pool of 2 connections under 50 concurrent jobs that each hold a
//! transaction around a slow query.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::{Ctx, audit_checks};
use crate::client::{Client, Driver};
use crate::db::ScenarioDb;
use crate::fleet::{Fleet, WorkerSpec};
use crate::producer::spawn_batch;
use crate::report::{Report, count, secs};

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> Result<Report> {
    let jobs = ctx.pick(150, 1000);
    let max_work_ms = 100;
    let mut report = Report::new(
        super::Scenario::Pool.title(),
        format!(
            "For each driver in turn, one worker process whose pool has 2 connections runs 50 jobs at \
             once (concurrency 50..50). Each job opens a transaction, runs `pg_sleep` of 0–{max_work_ms} ms \
             in it, writes its side effect and completes in it, so every running job wants a \
             connection for its whole run while the runner needs them too, to claim, renew leases \
             and record outcomes. {jobs} jobs per driver."
        ),
    );
    let mut audits = Vec::new();
    for driver in [Driver::Sqlx, Driver::TokioPostgres] {
        let db = ScenarioDb::create(true).await?;
        let client = Client::connect(Driver::Sqlx, db.url(), 2, Duration::from_secs(10)).await?;
        let ids = spawn_batch(&client, jobs, max_work_ms).await?;
        let mut fleet = Fleet::new(db.url(), &ctx.log_dir);
        let mut spec = WorkerSpec::new(driver, Duration::from_secs(30));
        spec.pool = 2;
        spec.concurrency = (50, 50);
        spec.sql_sleep = true;
        let started = Instant::now();
        fleet.start(spec).await?;
        let drained = db.wait_for(&ids, Duration::from_secs(300)).await?;
        let elapsed = started.elapsed();
        fleet.stop_all().await?;
        report.fact(
            format!("{}: all jobs done in", driver.name()),
            drained.map_or("not within 300 s".into(), |_| secs(elapsed)),
        );
        let audit = db.audit(&ids).await?;
        report.fact(
            format!("{}: attempts that failed and were retried", driver.name()),
            count(audit.attempts - audit.completed as i64),
        );
        report.check(
            drained.is_some() && audit.is_clean(),
            format!(
                "{}: no deadlock, every job completed exactly once ({} of {}), the queue empty",
                driver.name(),
                count(audit.completed as i64),
                count(jobs as i64)
            ),
        );
        audits.push(audit);
    }
    if let Some(total) = audits.into_iter().reduce(|a, b| a + b) {
        audit_checks(&mut report, &total);
    }
    Ok(report)
}
