//! Steady spawn-and-process load for a long while, with a worker killed
//! every so often: memory, connections, the table and latency must stay
//! flat.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::{Ctx, audit_checks};
use crate::client::{Client, Driver};
use crate::db::ScenarioDb;
use crate::fleet::{Fleet, WorkerSpec};
use crate::producer::{Load, produce};
use crate::report::{Report, count, secs};
use crate::task::now_epoch;

/// One look at the system.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    at: f64,
    completed: i64,
    depth: i64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    rss_kib: [u64; 2],
    connections: i64,
    /// mq_jobs's heap, without its indexes.
    table_bytes: i64,
    /// mq_jobs's indexes together.
    index_bytes: i64,
    dead_tuples: i64,
}

/// A process's resident memory, in KiB.
fn rss_kib(pid: Option<u32>) -> u64 {
    let Some(pid) = pid else { return 0 };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

async fn sample(db: &ScenarioDb, fleet: &Fleet, since: f64) -> Result<Sample> {
    let at = now_epoch();
    let (completed,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM rel_effects WHERE at > to_timestamp($1) AND at <= to_timestamp($2)",
    )
    .bind(since)
    .bind(at)
    .fetch_one(&db.pool)
    .await?;
    let (p50, p99, max): (Option<f64>, Option<f64>, Option<i64>) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_us),
                percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_us),
                max(latency_us)
         FROM rel_started WHERE at > to_timestamp($1) AND at <= to_timestamp($2)",
    )
    .bind(since)
    .bind(at)
    .fetch_one(&db.pool)
    .await?;
    let (depth, connections, table_bytes, index_bytes, dead_tuples): (i64, i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM mq_jobs),
                (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()),
                pg_table_size('mq_jobs'),
                pg_indexes_size('mq_jobs'),
                coalesce((SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'mq_jobs'), 0)",
        )
        .fetch_one(&db.pool)
        .await?;
    Ok(Sample {
        at,
        completed,
        depth,
        p50_ms: p50.unwrap_or(0.0) / 1000.0,
        p99_ms: p99.unwrap_or(0.0) / 1000.0,
        max_ms: max.unwrap_or(0) as f64 / 1000.0,
        rss_kib: [
            rss_kib(fleet.workers[0].pid()),
            rss_kib(fleet.workers[1].pid()),
        ],
        connections,
        table_bytes,
        index_bytes,
        dead_tuples,
    })
}

/// The largest value of `f` over `samples`.
fn peak(samples: &[Sample], f: impl Fn(&Sample) -> f64) -> f64 {
    samples.iter().map(f).fold(0.0, f64::max)
}

/// The median of `f` over `samples`: for latency, where one sample that
/// caught a killed worker's lease says nothing about a trend.
fn median(samples: &[Sample], f: impl Fn(&Sample) -> f64) -> f64 {
    let mut values: Vec<f64> = samples.iter().map(f).collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> Result<Report> {
    let load = Load {
        rate: ctx.pick(200.0, 300.0),
        duration: ctx.soak,
        max_work_ms: 20,
    };
    let every = ctx.pick(Duration::from_secs(5), Duration::from_secs(60));
    let kill_every = ctx.pick(Duration::from_secs(15), Duration::from_secs(60));
    let lease = Duration::from_secs(5);
    let mut report = Report::new(
        super::Scenario::Soak.title(),
        format!(
            "Producers spawn {} jobs/s (0–{} ms each), one per call through both drivers, for {}. \
             Four worker processes run them: two that stay up (one per driver, whose memory is \
             watched) and two that are killed with SIGKILL and replaced, one every {} (lease {}). \
             Every {} the harness samples the jobs completed, the queue's depth, spawn-to-start \
             latency, the steady workers' resident memory, the database's connections, and \
             the size of mq_jobs's table and of its indexes, and its dead tuples.",
            load.rate,
            load.max_work_ms,
            secs(load.duration),
            secs(kill_every),
            secs(lease),
            secs(every),
        ),
    );
    let db = ScenarioDb::create(true).await?;
    let mut fleet = Fleet::new(db.url(), &ctx.log_dir);
    fleet
        .start_alternating(4, WorkerSpec::new(Driver::Sqlx, lease))
        .await?;
    let wait = Duration::from_secs(10);
    let clients = Client::both(db.url(), 4, wait).await?;
    let producing = tokio::spawn(async move { produce(&clients, load).await });
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut last = now_epoch();
    let mut next_kill = started + kill_every;
    let mut churn = 0;
    while !producing.is_finished() {
        tokio::time::sleep(every).await;
        let s = sample(&db, &fleet, last).await?;
        last = s.at;
        samples.push(s);
        if Instant::now() >= next_kill && !producing.is_finished() {
            fleet.replace(2 + churn % 2).await?;
            churn += 1;
            next_kill += kill_every;
        }
    }
    let ledger = producing.await??;
    let drained = db
        .wait_for(&ledger.acknowledged, Duration::from_secs(120))
        .await?;
    fleet.stop_all().await?;

    report.fact("workers killed", count(fleet.kills.len() as i64));
    report.fact(
        "spawn calls that returned an error",
        count(ledger.failed.len() as i64),
    );
    report.fact(
        "drained after the last spawn in",
        drained.map_or("not within 120 s".into(), secs),
    );
    let audit = db.audit(&ledger.acknowledged).await?;
    audit_checks(&mut report, &audit);

    let header = [
        "t (s)",
        "done/s",
        "queued",
        "start p50 (ms)",
        "start p99 (ms)",
        "start max (ms)",
        "sqlx worker RSS (MiB)",
        "tokio-postgres worker RSS (MiB)",
        "connections",
        "mq_jobs table (kB)",
        "mq_jobs indexes (kB)",
        "mq_jobs dead tuples",
    ];
    let t0 = samples.first().map_or(0.0, |s| s.at - every.as_secs_f64());
    let rows = samples
        .iter()
        .map(|s| {
            vec![
                format!("{:.0}", s.at - t0),
                format!("{:.0}", s.completed as f64 / every.as_secs_f64()),
                count(s.depth),
                format!("{:.1}", s.p50_ms),
                format!("{:.1}", s.p99_ms),
                format!("{:.0}", s.max_ms),
                format!("{:.1}", s.rss_kib[0] as f64 / 1024.0),
                format!("{:.1}", s.rss_kib[1] as f64 / 1024.0),
                s.connections.to_string(),
                count(s.table_bytes / 1024),
                count(s.index_bytes / 1024),
                count(s.dead_tuples),
            ]
        })
        .collect();
    report.series = Some((header.iter().map(|h| h.to_string()).collect(), rows));

    // Flat: the second half's peak stays near the first half's (the first
    // sample, warm-up, aside).
    let warm = &samples[samples.len().min(1)..];
    let (first, second) = warm.split_at(warm.len() / 2);
    if first.is_empty() || second.is_empty() {
        report.check(false, "enough samples to compare the halves of the run");
        return Ok(report);
    }
    for (i, driver) in ["sqlx", "tokio-postgres"].iter().enumerate() {
        let (a, b) = (
            peak(first, |s| s.rss_kib[i] as f64),
            peak(second, |s| s.rss_kib[i] as f64),
        );
        report.check(
            b <= a * 1.25 + 8.0 * 1024.0,
            format!(
                "the steady {driver} worker's memory stayed flat (peak {:.1} MiB in the first half, {:.1} MiB in the second)",
                a / 1024.0,
                b / 1024.0
            ),
        );
    }
    // The short variant's halves are 30 s of six 5-second samples, on a
    // 2-core machine that also runs the server, the producer and workers
    // killed every 15 s: one slow stretch (a checkpoint, a worker's pool
    // filling up again after its restart) moves a half's figures more than
    // a leak could in 30 s. It gets wider bounds; the long soak keeps the
    // tight ones.
    let (connection_slack, latency_slack_ms) = (ctx.pick(8.0, 4.0), ctx.pick(15.0, 1.0));
    let (a, b) = (
        peak(first, |s| s.connections as f64),
        peak(second, |s| s.connections as f64),
    );
    report.check(
        b <= a + connection_slack,
        format!("open connections stayed flat (peak {a} in the first half, {b} in the second)"),
    );
    for (what, size) in [
        (
            "table",
            (|s: &Sample| s.table_bytes as f64) as fn(&Sample) -> f64,
        ),
        ("indexes", |s: &Sample| s.index_bytes as f64),
    ] {
        let (a, b) = (peak(first, size), peak(second, size));
        report.check(
            b <= a * 2.0 + 1024.0 * 1024.0,
            format!(
                "mq_jobs's {what} stayed small (peak {} kB in the first half, {} kB in the second)",
                count((a / 1024.0) as i64),
                count((b / 1024.0) as i64)
            ),
        );
    }
    // Latency: the typical minute's p99, not the worst (a minute that
    // caught a killed worker's jobs waits out their lease).
    let (a, b) = (median(first, |s| s.p99_ms), median(second, |s| s.p99_ms));
    report.check(
        b <= a * 1.5 + latency_slack_ms,
        format!(
            "start latency stayed flat (median of the per-sample p99s {a:.1} ms in the first half, {b:.1} ms in the second)"
        ),
    );
    let (a, b) = (
        peak(first, |s| s.depth as f64),
        peak(second, |s| s.depth as f64),
    );
    let backlog_bound = a * 2.0 + load.rate * lease.as_secs_f64() * 2.0;
    report.check(
        b <= backlog_bound,
        format!("the queue did not grow (peak depth {a} in the first half, {b} in the second)"),
    );
    Ok(report)
}
