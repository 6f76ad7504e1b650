//! mq-bench: mq against sqlxmq 0.6, River's Rust client, graphile-worker
//! 0.18 (where Node >= 22.18 and its npm packages are installed) and bare
//! SQL, on one PostgreSQL, in these scenarios: enqueue-single,
//! enqueue-batch, drain, backlog, latency, ordered and multiprocess; and,
//! for mq alone, blocked (a drain beside ordered channels held by failed
//! jobs, compared with mq's own drain), priority, unique and limits
//! (channel limits across processes); and, run only when named, for mq
//! beside the raw floor, held-xmin (a steady load while a long transaction
//! holds the xmin horizon, minute by minute).
//!
//! ```sh
//! scripts/bench.sh                      # the full run, on a throwaway durable PostgreSQL
//! cargo run --release -p mq-bench -- --database-url URL --quick --yes   # the smoke test, on your server
//! ```
//!
//! It runs only on a server named with `--database-url` (never
//! DATABASE_URL) and with `--yes`; without them it says what it would do.
//! Each system gets a database of its own on the server (`mq_bench_*`,
//! dropped and created afresh, and dropped again at the end or when
//! interrupted, unless `--keep-databases`). Tables go to stdout in Markdown; progress
//! to stderr. A job lost or run twice, an ordering violation, or any error
//! makes the exit status non-zero.
#![forbid(unsafe_code)]

mod cpu;
mod db;
mod recorder;
mod report;
mod scenarios;
mod stats;
mod systems;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use scenarios::{Ctx, Scenario, Sizes};
use systems::{Config, SystemKind};

/// Benchmarks mq against sqlxmq 0.6, riverqueue 0.5, graphile-worker 0.18
/// and bare SQL on one PostgreSQL, printing a Markdown table per scenario.
#[derive(Debug, Parser)]
#[command(name = "mq-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// The server: a URL to any database on it, where this user may create
    /// databases (mq_bench_* are created, and dropped at the end). Never
    /// read from DATABASE_URL: the benchmark loads the server it is given
    /// for up to an hour, which must be a choice, not an accident.
    #[arg(long, global = true)]
    database_url: Option<String>,

    /// Runs the benchmark. Without it (or without --database-url), mq-bench
    /// says what it would do, and to which server, and exits.
    #[arg(long)]
    yes: bool,

    /// Keeps the databases mq_bench_* at the end, for inspection (by
    /// default they are dropped, also when the run is interrupted).
    #[arg(long)]
    keep_databases: bool,

    /// Scenarios to run, comma-separated (default: all but held-xmin;
    /// --quick runs all): enqueue-single, enqueue-batch, drain, backlog,
    /// latency, ordered, blocked (mq only; compared with drain when drain
    /// runs first), multiprocess, priority, unique and limits (mq only), held-xmin (mq and raw only, 21 minutes
    /// per system; never in the default list).
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<Scenario>,

    /// Systems to run, comma-separated (default: all that can run here):
    /// mq-sqlx, mq-tokio-postgres, sqlxmq, river, graphile-worker, raw.
    /// graphile-worker needs Node >= 22.18 (on PATH, or the one `npm ci` in
    /// mq-bench/graphile installs, with graphile-worker); without them it
    /// is skipped with a note.
    #[arg(long, value_delimiter = ',')]
    systems: Vec<SystemKind>,

    /// Skips a system in one scenario, as SCENARIO:SYSTEM (repeatable,
    /// comma-separated), e.g. --skip backlog:river.
    #[arg(long, value_delimiter = ',')]
    skip: Vec<String>,

    /// Repetitions per scenario (default 3; 1 with --quick).
    #[arg(long)]
    reps: Option<usize>,

    /// Tiny job counts and one repetition: a smoke test of every scenario
    /// and system, with no timing claims.
    #[arg(long)]
    quick: bool,

    /// Rows per statement of the raw-SQL floor (insert, claim, delete).
    #[arg(long, default_value_t = 100, global = true)]
    raw_batch: usize,

    /// Connections in each system's pool (the same for all).
    #[arg(long, default_value_t = 32, global = true)]
    pool_size: u32,

    /// The sqlx pools under test skip sqlx's ping before each acquire
    /// (`test_before_acquire(false)`; sqlx pings by default): shows what
    /// that round trip costs one-job-per-call spawns.
    #[arg(long, global = true)]
    no_pool_ping: bool,

    /// Jobs in the queue of scenario 3 (default 200,000).
    #[arg(long)]
    drain_jobs: Option<usize>,

    /// Jobs in the queue of scenario 7, shared by its processes (default
    /// 20,000): a larger queue, such as scenario 3's, keeps the processes'
    /// start-up out of the rate.
    #[arg(long)]
    multiprocess_jobs: Option<usize>,

    /// Caps how many jobs of scenario 3's queue a system drains, as
    /// SYSTEM=N (repeatable, comma-separated); its rate is over those jobs.
    /// Defaults: river=20000, graphile-worker=20000 (500 each with --quick); N=0 removes a cap.
    #[arg(long, value_delimiter = ',')]
    drain_cap: Vec<String>,

    /// Jobs in the backlog of scenario 4.
    #[arg(long)]
    backlog_jobs: Option<usize>,

    /// Caps how many jobs of scenario 4's backlog a system drains, as
    /// SYSTEM=N (repeatable, comma-separated); its whole-drain figures are
    /// then extrapolated, and marked so. Defaults: sqlxmq=100000,
    /// river=100000, graphile-worker=100000 (1000 each with --quick); N=0 removes a cap.
    #[arg(long, value_delimiter = ',')]
    backlog_cap: Vec<String>,

    /// Repetitions of scenario 4 (default: --reps).
    #[arg(long)]
    backlog_reps: Option<usize>,

    /// Seconds of steady load per rate in scenario 5.
    #[arg(long)]
    latency_secs: Option<f64>,

    /// Spawn rate of scenario 8 (held-xmin), in jobs per second (default
    /// 1000).
    #[arg(long, value_name = "JOBS_PER_SEC")]
    held_xmin_rate: Option<u32>,

    /// Minutes of scenario 8's phases: warm-up, xmin held, released
    /// (default 1,10,10; fractions allowed, e.g. 0.5,1,1).
    #[arg(long, value_delimiter = ',', value_name = "WARMUP,HELD,RELEASED")]
    held_xmin_minutes: Vec<f64>,

    /// Seconds per row of scenario 8 (default 60).
    #[arg(long, value_name = "SECS")]
    held_xmin_bucket_secs: Option<f64>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// (Internal) one runner process of scenarios 7 and 11, driven over
    /// stdin/stdout.
    #[command(hide = true)]
    Worker {
        /// The system to run.
        #[arg(long)]
        system: SystemKind,
        /// Jobs in the queue (numbered 0..jobs).
        #[arg(long)]
        jobs: usize,
        /// Milliseconds each job's handler takes before completing it (0:
        /// jobs that do nothing; scenario 11's hold their slots a while).
        #[arg(long, default_value_t = 0)]
        job_ms: u64,
    },
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(error) = run(cli).await {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<()> {
    let config = Config {
        server_url: cli.database_url.clone().unwrap_or_default(),
        pool_size: cli.pool_size,
        pool_ping: !cli.no_pool_ping,
        raw_batch: cli.raw_batch,
    };
    if let Some(Command::Worker {
        system,
        jobs,
        job_ms,
    }) = cli.command
    {
        let job_duration = (job_ms > 0).then(|| std::time::Duration::from_millis(job_ms));
        return scenarios::multiprocess::worker(system, config, jobs, job_duration).await;
    }

    let mut sizes = if cli.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    if let Some(n) = cli.drain_jobs {
        sizes.drain = n;
    }
    if let Some(n) = cli.multiprocess_jobs {
        sizes.multiprocess_jobs = n;
    }
    if let Some(n) = cli.backlog_jobs {
        sizes.backlog = n;
    }
    sizes
        .drain_caps
        .extend(parse_caps("--drain-cap", &cli.drain_cap)?);
    sizes
        .backlog_caps
        .extend(parse_caps("--backlog-cap", &cli.backlog_cap)?);
    sizes.backlog_reps = cli.backlog_reps;
    if let Some(s) = cli.latency_secs {
        sizes.latency_secs = s;
    }
    if let Some(rate) = cli.held_xmin_rate {
        if rate == 0 {
            bail!("--held-xmin-rate must be at least 1");
        }
        sizes.held_xmin_rate = rate;
    }
    if !cli.held_xmin_minutes.is_empty() {
        let Ok(minutes) = <[f64; 3]>::try_from(cli.held_xmin_minutes.as_slice()) else {
            bail!(
                "--held-xmin-minutes takes three numbers (warm-up, held, released), got {:?}",
                cli.held_xmin_minutes
            );
        };
        if minutes.iter().any(|m| !m.is_finite() || *m <= 0.0) {
            bail!("--held-xmin-minutes: each phase must last more than 0 minutes, got {minutes:?}");
        }
        sizes.held_xmin_minutes = minutes;
    }
    if let Some(secs) = cli.held_xmin_bucket_secs {
        if !secs.is_finite() || secs < 0.1 {
            bail!("--held-xmin-bucket-secs must be at least 0.1, got {secs}");
        }
        sizes.held_xmin_bucket_secs = secs;
    }
    let reps = cli.reps.unwrap_or(if cli.quick { 1 } else { 3 }).max(1);
    let scenarios = if !cli.scenarios.is_empty() {
        cli.scenarios.clone()
    } else if cli.quick {
        // The smoke test runs every path, the long scenario included (at
        // its tiny quick durations).
        Scenario::ALL.to_vec()
    } else {
        Scenario::DEFAULT.to_vec()
    };
    let requested = if cli.systems.is_empty() {
        SystemKind::ALL.to_vec()
    } else {
        cli.systems.clone()
    };
    // A system this machine cannot run (graphile-worker without Node) is
    // left out with a note, whether named or by default, so that the others
    // still run.
    let mut kinds = Vec::new();
    let mut not_run = Vec::new();
    for kind in requested {
        match kind.unavailable() {
            Some(why) => {
                let note = format!("{kind} not run: {why}");
                eprintln!("{note}");
                not_run.push(note);
            }
            None => kinds.push(kind),
        }
    }
    let mut skip = HashSet::new();
    for entry in &cli.skip {
        let Some((scenario, system)) = entry.split_once(':') else {
            bail!("--skip takes SCENARIO:SYSTEM, got {entry:?}");
        };
        skip.insert((scenario.parse::<Scenario>()?, system.parse::<SystemKind>()?));
    }
    let databases: Vec<&'static str> = kinds.iter().fold(Vec::new(), |mut names, kind| {
        if !names.contains(&kind.database()) {
            names.push(kind.database());
        }
        names
    });
    if cli.database_url.is_none() || !cli.yes {
        eprint!("{}", plan(&cli, &scenarios, &kinds, &databases));
        std::process::exit(2);
    }
    let ctx = Ctx { config, sizes };
    let work = run_scenarios(&cli, &ctx, scenarios, kinds, not_run, skip, reps);
    let outcome = tokio::select! {
        result = work => Some(result),
        () = interrupted() => None,
    };
    // The runners and pools of the run are gone with `work`; what is left
    // of their connections, DROP DATABASE ... WITH (FORCE) ends.
    if cli.keep_databases {
        eprintln!("kept the databases {}", databases.join(", "));
    } else {
        db::drop_databases(&ctx.config.server_url, &databases).await?;
        eprintln!("dropped the databases {}", databases.join(", "));
    }
    match outcome {
        Some(result) => result,
        None => {
            eprintln!("interrupted");
            std::process::exit(130);
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
async fn interrupted() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}

/// What a run with these arguments would do, for a user who has not yet
/// named the server or confirmed.
fn plan(cli: &Cli, scenarios: &[Scenario], kinds: &[SystemKind], databases: &[&str]) -> String {
    let names = |items: Vec<String>| items.join(", ");
    let duration = if cli.quick {
        "about a minute".to_owned()
    } else if scenarios.contains(&Scenario::HeldXmin) {
        format!(
            "about {} minutes per system for held-xmin alone, more with the other scenarios",
            ((cli.held_xmin_minutes.iter().sum::<f64>()).max(21.0)).round()
        )
    } else if scenarios.len() == Scenario::DEFAULT.len() {
        "about an hour on 2 cores".to_owned()
    } else {
        "minutes to an hour by scenario; all of them take about an hour on 2 cores".to_owned()
    };
    let server = match &cli.database_url {
        Some(url) => format!("the server of {}", redact(url)),
        None => "a server not yet named (--database-url URL; DATABASE_URL is not read)".to_owned(),
    };
    let lines = [
        format!(
            "mq-bench would run {} ({duration}) on {server}.",
            if cli.quick {
                "a smoke test"
            } else {
                "the benchmark"
            }
        ),
        format!(
            "  scenarios: {}",
            names(scenarios.iter().map(|s| s.to_string()).collect())
        ),
        format!(
            "  systems: {}",
            names(kinds.iter().map(|k| k.name().to_owned()).collect())
        ),
        format!(
            "  it creates the databases {} there (dropping any of those names first),",
            databases.join(", ")
        ),
        "  keeps every core of the server busy, and drops the databases at the end or when"
            .to_owned(),
        "  interrupted (--keep-databases keeps them).".to_owned(),
        "To run it, add --yes (and --database-url URL). A smoke test of every path at tiny"
            .to_owned(),
        "sizes: --quick. A throwaway server instead of yours: scripts/bench.sh. Every option:"
            .to_owned(),
        "--help.".to_owned(),
    ];
    lines.join("\n") + "\n"
}

/// `url` with its password, if any, replaced by `***`.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_owned(),
    }
}

/// Sets up the systems and runs every scenario on them, printing a table
/// per scenario.
async fn run_scenarios(
    cli: &Cli,
    ctx: &Ctx,
    scenarios: Vec<Scenario>,
    kinds: Vec<SystemKind>,
    not_run: Vec<String>,
    skip: HashSet<(Scenario, SystemKind)>,
    reps: usize,
) -> Result<()> {
    eprintln!("setting up databases");
    let mut databases = HashSet::new();
    for &kind in &kinds {
        if databases.insert(kind.database()) {
            systems::setup(kind, &ctx.config)
                .await
                .with_context(|| format!("setting up {kind}"))?;
        }
    }
    let mut connected = BTreeMap::new();
    for &kind in &kinds {
        let system = systems::connect(kind, &ctx.config)
            .await
            .with_context(|| format!("connecting {kind}"))?;
        connected.insert(kind, system);
    }

    let admin = db::pool(&ctx.config.server_url, 1).await?;
    let mut out = std::io::stdout();
    writeln!(
        out,
        "PostgreSQL: {}  \nsettings: {}  \nsystems: {}; repetitions: {reps}{}; pool size {}{}; raw batch {}\n",
        db::server_version(&admin).await?,
        db::durability(&admin).await?,
        kinds
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", "),
        if cli.quick {
            " (quick mode: tiny job counts, figures mean nothing)"
        } else {
            ""
        },
        ctx.config.pool_size,
        if ctx.config.pool_ping {
            ""
        } else {
            " (sqlx pools without the ping before each acquire)"
        },
        ctx.config.raw_batch,
    )?;
    if !cli.skip.is_empty() {
        writeln!(out, "skipped: {}\n", cli.skip.join(", "))?;
    }
    admin.close().await;

    let started = Instant::now();
    let mut failures = Vec::new();
    let mut peer_failures = Vec::new();
    // The tables printed so far, for scenarios compared with earlier ones.
    let mut finished: Vec<(Scenario, report::Table)> = Vec::new();
    for scenario in scenarios {
        let mut table = scenario.table(ctx);
        for note in &not_run {
            table.note(note.clone());
        }
        let reps = match scenario {
            Scenario::Backlog => ctx.sizes.backlog_reps.unwrap_or(reps).max(1),
            // One run is already minutes long and reports minute by minute;
            // its table says so.
            Scenario::HeldXmin => 1,
            _ => reps,
        };
        table.note(format!("repetitions: {reps}"));
        for rep in 0..reps {
            for (&kind, system) in &connected {
                if skip.contains(&(scenario, kind)) || !scenario.runs(kind) {
                    continue;
                }
                eprintln!(
                    "[{:>5.0} s] {scenario} {kind} (repetition {} of {reps})",
                    started.elapsed().as_secs_f64(),
                    rep + 1
                );
                let system = Arc::clone(system);
                if let Err(error) = scenario.run_once(ctx, &system, &mut table).await {
                    let text = format!("{scenario} {kind}: FAILED: {error:#}");
                    eprintln!("{text}");
                    table.note(text.clone());
                    if kind.failure_is_fatal() {
                        failures.push(text);
                    } else {
                        peer_failures.push(text);
                    }
                }
            }
        }
        scenario.compare(&mut table, &finished);
        writeln!(out, "{}", table.to_markdown())?;
        out.flush()?;
        finished.push((scenario, table));
    }
    eprintln!("done in {:.0} s", started.elapsed().as_secs_f64());
    if !peer_failures.is_empty() {
        eprintln!(
            "{} failures of other queues (in their tables; not mq's):\n{}",
            peer_failures.len(),
            peer_failures.join("\n")
        );
    }
    if !failures.is_empty() {
        bail!("{} failures:\n{}", failures.len(), failures.join("\n"));
    }
    Ok(())
}

/// `SYSTEM=N` entries of a cap option; N=0 means no cap.
fn parse_caps(option: &str, entries: &[String]) -> Result<Vec<(SystemKind, usize)>> {
    entries
        .iter()
        .map(|entry| {
            let Some((system, cap)) = entry.split_once('=') else {
                bail!("{option} takes SYSTEM=N, got {entry:?}");
            };
            let cap: usize = cap.parse().with_context(|| format!("{option} N"))?;
            Ok((system.parse()?, if cap == 0 { usize::MAX } else { cap }))
        })
        .collect()
}
