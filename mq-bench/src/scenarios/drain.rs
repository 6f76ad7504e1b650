//! Scenarios 3 and 4: how fast one runner empties a full queue, and
//! whether that holds for a deep backlog.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::{Ctx, payloads, prefill, reset};
use crate::cpu::CpuMeter;
use crate::recorder::Recorder;
use crate::report::{Column, Table, Unit, thousands};
use crate::systems::{Profile, RunnerOptions, System, SystemKind};

/// The table of scenario 3.
pub fn drain_table(ctx: &Ctx) -> Table {
    let mut table = Table::new(
        format!(
            "3. Drain {} pre-enqueued jobs with one runner",
            thousands(ctx.sizes.drain as i64)
        ),
        vec![
            Column::new("jobs/s", Unit::Rate),
            Column::new("mq-bench CPU (cores)", Unit::Cores),
            Column::new("PostgreSQL CPU (cores)", Unit::Cores),
        ],
    );
    table.note(CPU_NOTE);
    table
}

/// What the CPU columns mean.
pub(super) const CPU_NOTE: &str = "CPU columns: CPU seconds per second of the run, read from /proc, of the benchmark process with the processes it started (the runner under test: in the process, or graphile-worker's Node process) and of the PostgreSQL server (postmaster and backends). The machine's cores are the ceiling for their sum: near it, a figure is CPU-bound; well below it, round trips and waits limit it";

/// The table of scenario 4.
pub fn backlog_table(ctx: &Ctx) -> Table {
    let mut table = Table::new(
        format!(
            "4. Drain a backlog of {} jobs with one runner (default settings)",
            thousands(ctx.sizes.backlog as i64)
        ),
        vec![
            Column::new("whole drain jobs/s", Unit::Rate),
            Column::new("first 10 % jobs/s", Unit::Rate),
            Column::new("last 10 % jobs/s", Unit::Rate),
            Column::new("drain s", Unit::Seconds),
            Column::new("RSS start MiB", Unit::MiB),
            Column::new("RSS peak MiB", Unit::MiB),
            Column::new("RSS end MiB", Unit::MiB),
            Column::new("n_dead_tup after", Unit::Count),
            Column::new("table MiB after", Unit::MiB),
            Column::new("indexes MiB after", Unit::MiB),
        ],
    );
    table.note("RSS is the whole benchmark process's resident memory (VmRSS, sampled every 100 ms from the runner's start to the last completion); it includes what earlier work left allocated, so a peak equal to the start shows only that the runner did not grow past it");
    table
}

/// Drains `jobs` pre-filled jobs (or the first `stop_after` of them) with
/// one runner; returns the recorder, the drain's start and its end.
pub(super) async fn timed_drain(
    ctx: &Ctx,
    system: &Arc<dyn System>,
    profile: Profile,
    jobs: usize,
    stop_after: usize,
) -> Result<(Arc<Recorder>, Instant, Instant)> {
    let recorder = Arc::new(Recorder::new(jobs));
    let start = Instant::now();
    let runner = system
        .start_runner(
            RunnerOptions {
                profile,
                ordered_channels: None,
                claim_times: None,
                job_duration: None,
            },
            recorder.clone(),
        )
        .await?;
    let waited = recorder.wait_completed(stop_after, ctx.stall()).await;
    let end = Instant::now();
    runner.stop().await?;
    waited?;
    recorder.check(stop_after < jobs)?;
    Ok((recorder, start, end))
}

/// Scenario 3: pre-fill `drain` jobs, then time one runner emptying the
/// queue, with default and with tuned settings.
pub async fn drain(ctx: &Ctx, system: &Arc<dyn System>, table: &mut Table) -> Result<()> {
    let jobs = ctx.sizes.drain;
    let cap = ctx.sizes.drain_cap(system.kind());
    for (profile, variant) in [(Profile::Default, "default"), (Profile::Tuned, "tuned")] {
        reset(system).await?;
        prefill(ctx, system, &payloads(jobs)).await?;
        let server = crate::cpu::server_pid(system.admin_pool()).await;
        let meter = CpuMeter::start(server);
        let (_, start, end) = timed_drain(ctx, system, profile, jobs, cap).await?;
        let cpu = meter.stop();
        table.add(
            system.kind(),
            variant,
            &[
                Some(cap as f64 / (end - start).as_secs_f64()),
                cpu.bench,
                cpu.server,
            ],
        );
        if cap < jobs {
            table.mark(system.kind(), variant, "†");
            table.note(format!(
                "† capped ({}): drained the first {} of the {} jobs; the rate is over those (`--drain-cap SYSTEM=N` changes the cap)",
                system.kind(),
                thousands(cap as i64),
                thousands(jobs as i64)
            ));
            // What is left would take too long to drain; delete it.
            reset(system).await?;
        } else {
            let pending = system.pending().await?;
            if pending != 0 {
                bail!("{pending} jobs still pending after the drain");
            }
        }
        table.note(format!(
            "{} {variant}: {}",
            system.kind(),
            system.describe(profile)
        ));
    }
    Ok(())
}

/// This process's resident memory in MiB, from /proc/self/status.
pub fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Samples [`rss_mib`] every 100 ms until stopped; returns the peak.
struct RssSampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<f64>,
}

impl RssSampler {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut peak = rss_mib().unwrap_or(0.0);
            while !flag.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                peak = peak.max(rss_mib().unwrap_or(0.0));
            }
            peak
        });
        RssSampler { stop, task }
    }

    async fn peak(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or(0.0)
    }
}

/// Scenario 4: pre-fill `backlog` jobs, drain them with one runner with
/// default settings, and report the rate over the whole drain and over its
/// first and last tenth, the runner process's memory, and the table's
/// dead rows and sizes afterwards. sqlxmq drains only its cap.
pub async fn backlog(ctx: &Ctx, system: &Arc<dyn System>, table: &mut Table) -> Result<()> {
    let jobs = ctx.sizes.backlog;
    let cap = ctx.sizes.backlog_cap(system.kind());
    reset(system).await?;
    eprintln!("    pre-filling {} jobs", thousands(jobs as i64));
    prefill(ctx, system, &payloads(jobs)).await?;
    eprintln!("    draining");

    let rss_start = rss_mib();
    let sampler = RssSampler::start();
    let (recorder, start, end) = timed_drain(ctx, system, Profile::Default, jobs, cap).await?;
    let rss_peak = sampler.peak().await;
    let rss_end = rss_mib();

    let seconds = (end - start).as_secs_f64();
    let whole = cap as f64 / seconds;
    let marks = recorder.marks();
    let tenth = (jobs / 10).max(1) as f64;
    let first = marks
        .first()
        .map(|(_, at)| tenth / (*at - start).as_secs_f64());
    let last = if cap == jobs {
        marks
            .iter()
            .rev()
            .find(|(count, _)| *count <= jobs - jobs / 10)
            .map(|(_, at)| tenth / (end - *at).as_secs_f64())
    } else {
        None
    };

    // The statistics collector lags the last transactions by up to a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stats = crate::db::table_stats(system.admin_pool(), system.tables()).await?;
    let dead: i64 = stats.iter().map(|s| s.dead).sum();
    let table_bytes: i64 = stats.iter().map(|s| s.table_bytes).sum();
    let index_bytes: i64 = stats.iter().map(|s| s.index_bytes()).sum();
    let mib = |b: i64| b as f64 / (1024.0 * 1024.0);

    table.add(
        system.kind(),
        "default",
        &[
            Some(whole),
            first,
            last,
            Some(jobs as f64 / whole),
            rss_start,
            Some(rss_peak),
            rss_end,
            Some(dead as f64),
            Some(mib(table_bytes)),
            Some(mib(index_bytes)),
        ],
    );
    for s in &stats {
        let indexes: Vec<String> = s
            .indexes
            .iter()
            .map(|(name, bytes)| format!("{name} {:.1} MiB", mib(*bytes)))
            .collect();
        table.note_keyed(
            &format!("{} {}: ", system.kind(), s.table),
            &format!(
                "after the last run {} live, {} dead rows, {} autovacuums, table {:.1} MiB; {}",
                thousands(s.live),
                thousands(s.dead),
                s.autovacuums,
                mib(s.table_bytes),
                indexes.join(", ")
            ),
        );
    }
    if system.kind() == SystemKind::River {
        table.note("river keeps completed jobs (24 h retention by default): its table is full after the drain");
    }
    if cap < jobs {
        table.mark(system.kind(), "default", "†");
        table.note(format!(
            "† capped ({}): drained only the first {} of the {} jobs; its whole-drain jobs/s is the rate over those, its drain s is extrapolated from that rate, and its last 10 % was not measured (`--backlog-cap SYSTEM=N` changes the cap)",
            system.kind(),
            thousands(cap as i64),
            thousands(jobs as i64)
        ));
        // What is left would take too long to drain; delete it.
        reset(system).await?;
    }
    Ok(())
}
