//! mq's reliability suite: real worker processes and a real PostgreSQL,
//! faults injected on purpose (SIGKILL, server restarts, terminated LISTEN
//! connections, starved pools, bad input, a periodic schedule's leader
//! killed), a soak, and channel limits across processes. Every scenario
//! ends with a verdict; the report goes to stdout and, with `--output`, to
//! a file (scripts/reliability.sh writes RELIABILITY.md).
//!
//! `mq-reliability --short` runs the short variant of every scenario (CI);
//! without it, the full one. `worker` and `migrate` are what the harness
//! runs in its child processes.

mod client;
mod db;
mod fleet;
mod producer;
mod report;
mod scenarios;
mod server;
mod task;
mod worker;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::client::{Client, Driver};
use crate::scenarios::{Ctx, Scenario, run_one};
use crate::server::Server;

/// mq's reliability suite.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The short variant of every scenario, in a few minutes (what CI runs).
    #[arg(long)]
    short: bool,
    /// Only these scenarios (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    scenarios: Vec<Scenario>,
    /// How long the soak runs, in minutes (default: 30, or 1 with --short).
    #[arg(long)]
    soak_minutes: Option<f64>,
    /// Also write the report to this file.
    #[arg(long)]
    output: Option<PathBuf>,
    /// The command line to show in the report as the one that produced it.
    #[arg(long, hide = true)]
    command_line: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A worker process (the harness starts these).
    #[command(hide = true)]
    Worker(worker::WorkerArgs),
    /// Applies mq's migrations and exits (the harness starts these).
    #[command(hide = true)]
    Migrate {
        /// The driver.
        #[arg(long, value_enum)]
        driver: Driver,
        /// The database.
        #[arg(long)]
        url: String,
    },
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or("?".into(), |kib| format!("{:.1} GiB", kib / 1048576.0));
    format!("{cpu}, {cores} cores, {memory}")
}

async fn run_suite(cli: Cli) -> Result<bool> {
    let url = mq_test_db::server_url();
    let server: String = {
        let pool = sqlx::PgPool::connect(&url)
            .await
            .context("connecting to DATABASE_URL")?;
        sqlx::query_scalar(
            "SELECT current_setting('server_version') || ' (fsync ' || current_setting('fsync')
                    || ', synchronous_commit ' || current_setting('synchronous_commit') || ')'",
        )
        .fetch_one(&pool)
        .await?
    };
    let log_dir = std::env::temp_dir().join(format!("mq-reliability-{}", std::process::id()));
    std::fs::create_dir_all(&log_dir)?;
    let soak_minutes = cli
        .soak_minutes
        .unwrap_or(if cli.short { 1.0 } else { 30.0 });
    let ctx = Ctx {
        short: cli.short,
        soak: Duration::from_secs_f64(soak_minutes * 60.0),
        log_dir: log_dir.clone(),
        server: Server::from_env(),
    };
    let scenarios = if cli.scenarios.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        cli.scenarios
    };
    let started = Instant::now();
    let began = time_now();
    let mut reports = Vec::new();
    for scenario in scenarios {
        eprintln!(
            "[{:>5.0} s] {} ...",
            started.elapsed().as_secs_f64(),
            scenario.title()
        );
        let report = run_one(scenario, &ctx).await;
        eprintln!(
            "[{:>5.0} s] {}: {}",
            started.elapsed().as_secs_f64(),
            scenario.title(),
            report.verdict()
        );
        for (holds, what) in &report.checks {
            if !holds {
                eprintln!("    failed: {what}");
            }
        }
        reports.push(report);
    }

    let passed = reports.iter().all(|r| r.passed());
    let mut out = String::new();
    let _ = writeln!(out, "# Reliability\n");
    let command = cli.command_line.map_or_else(
        || format!("mq-reliability{}", if ctx.short { " --short" } else { "" }),
        |line| line.trim().to_owned(),
    );
    let _ = writeln!(
        out,
        "Produced by `{command}`, started {began}, on {} with PostgreSQL {server}; \
         {} variant, {:.0} s in all. Every scenario runs real worker processes of this \
         repository's code against the server, and checks what the jobs wrote.\n",
        machine(),
        if ctx.short { "short" } else { "full" },
        started.elapsed().as_secs_f64(),
    );
    let _ = writeln!(out, "| scenario | verdict | took |\n|---|---|---:|");
    for report in &reports {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} s |",
            report.title,
            report.verdict(),
            report.elapsed.as_secs_f64()
        );
    }
    let _ = writeln!(
        out,
        "\nHow to read the figures: a job's *side effect* is a row it writes in the transaction that \
         completes it (`complete_with_transaction`); an *attempt* is a row it writes, outside any \
         transaction, when it starts. *Lost* counts spawned jobs without a side effect at the end, \
         *completed more than once* jobs with two. All times come from one clock (the machine's, \
         which PostgreSQL's `clock_timestamp()` reads too).\n"
    );
    for report in &reports {
        out.push_str(&report.render());
    }
    print!("{out}");
    if let Some(path) = &cli.output {
        std::fs::write(path, &out).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if passed {
        let _ = std::fs::remove_dir_all(&log_dir);
    } else {
        eprintln!("worker logs are in {}", log_dir.display());
    }
    Ok(passed)
}

/// The time now, to the minute, UTC.
fn time_now() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_else(|_| "now".into())
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Worker(args)) => worker::run(args).await,
        Some(Command::Migrate { driver, url }) => {
            let client = Client::connect(driver, &url, 1, Duration::from_secs(30)).await?;
            client.migrate().await?;
            Ok(())
        }
        None => {
            if !run_suite(cli).await? {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
