//! A worker process: a runner on one driver, running the reliability job,
//! until its standard input closes (a graceful stop) or it is killed.
//!
//! The job writes what the harness checks: a `rel_started` row when an
//! attempt starts (outside any transaction, so a killed attempt leaves it
//! behind), then its side effect, a `rel_effects` row, in the transaction
//! that completes the job.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use mq::{BoxError, CurrentJob, JobRegistry, JobRunnerHandle, JobRunnerOptions, job};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::client::Driver;
use crate::task::{ORDERED_CHANNEL, Task, WORK_CHANNEL, now_us, probe_channel};

/// How a worker process runs.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The driver.
    #[arg(long, value_enum)]
    pub driver: Driver,
    /// The database.
    #[arg(long)]
    pub url: String,
    /// This process's number, unique in a scenario (recorded with each
    /// attempt it starts).
    #[arg(long)]
    pub incarnation: i32,
    /// The runner's lease, in ms.
    #[arg(long, default_value_t = 30_000)]
    pub lease_ms: u64,
    /// The runner's poll interval, in ms.
    #[arg(long, default_value_t = 1_000)]
    pub poll_ms: u64,
    /// The runner's minimum concurrency.
    #[arg(long, default_value_t = 8)]
    pub min: usize,
    /// The runner's maximum concurrency.
    #[arg(long, default_value_t = 16)]
    pub max: usize,
    /// The connection pool's size.
    #[arg(long, default_value_t = 10)]
    pub pool: u32,
    /// Work inside the job's transaction (`pg_sleep`) instead of before it,
    /// so that every running job holds a connection.
    #[arg(long)]
    pub sql_sleep: bool,
}

/// What a job needs to know about its worker.
#[derive(Debug, Clone)]
struct WorkerInfo {
    incarnation: i32,
    sql_sleep: bool,
}

const INSERT_STARTED: &str = "INSERT INTO rel_started (job_id, incarnation, attempt, latency_us, lease_until) \
     SELECT $1, $2, $3, $4, (SELECT run_at FROM mq_jobs WHERE id = $1)";
const INSERT_EFFECT: &str =
    "INSERT INTO rel_effects (job_id, channel_args, seq, incarnation) VALUES ($1, $2, $3, $4)";

fn task_of(job: &CurrentJob) -> Result<Task, BoxError> {
    Ok(job
        .json::<Task>()?
        .ok_or("a reliability job needs a task")?)
}

/// The reliability job on sqlx.
#[job(name = "reliability")]
async fn reliability_sqlx(
    mut job: CurrentJob,
    pool: sqlx::PgPool,
    worker: WorkerInfo,
) -> Result<(), BoxError> {
    let task = task_of(&job)?;
    sqlx::query(INSERT_STARTED)
        .bind(job.id())
        .bind(worker.incarnation)
        .bind(job.attempt())
        .bind(now_us() - task.spawned_us)
        .execute(&pool)
        .await?;
    if !worker.sql_sleep {
        tokio::time::sleep(task.work()).await;
    }
    let mut tx = pool.begin().await?;
    if worker.sql_sleep {
        sqlx::query("SELECT pg_sleep($1)")
            .bind(task.work().as_secs_f64())
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(INSERT_EFFECT)
        .bind(job.id())
        .bind(job.channel_args())
        .bind(task.seq)
        .bind(worker.incarnation)
        .execute(&mut *tx)
        .await?;
    job.complete_with_transaction(tx).await?;
    Ok(())
}

/// The reliability job on tokio-postgres.
#[job(name = "reliability")]
async fn reliability_tokio_postgres(
    mut job: CurrentJob,
    pool: deadpool_postgres::Pool,
    worker: WorkerInfo,
) -> Result<(), BoxError> {
    let task = task_of(&job)?;
    pool.get()
        .await?
        .execute(
            INSERT_STARTED,
            &[
                &job.id(),
                &worker.incarnation,
                &job.attempt(),
                &(now_us() - task.spawned_us),
            ],
        )
        .await?;
    if !worker.sql_sleep {
        tokio::time::sleep(task.work()).await;
    }
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    if worker.sql_sleep {
        tx.execute("SELECT pg_sleep($1)", &[&task.work().as_secs_f64()])
            .await?;
    }
    tx.execute(
        INSERT_EFFECT,
        &[
            &job.id(),
            &job.channel_args(),
            &task.seq,
            &worker.incarnation,
        ],
    )
    .await?;
    job.complete_with_transaction(tx).await?;
    Ok(())
}

fn configure(runner: &mut JobRunnerOptions, args: &WorkerArgs) {
    runner
        .set_channel_names(&[
            WORK_CHANNEL.to_owned(),
            ORDERED_CHANNEL.to_owned(),
            probe_channel(args.incarnation),
        ])
        .set_concurrency(args.min, args.max)
        .set_lease(Duration::from_millis(args.lease_ms))
        .set_poll_interval(Duration::from_millis(args.poll_ms));
}

fn registry(info: &WorkerInfo, job: &'static mq::NamedJob) -> JobRegistry {
    let mut registry = JobRegistry::new(&[job]);
    registry.set_context(info.clone());
    registry.set_error_handler(|name, error| {
        eprintln!("job {name} failed: {}", mq::error_text(error.as_ref()));
    });
    registry
}

async fn start(args: &WorkerArgs) -> Result<JobRunnerHandle> {
    let info = WorkerInfo {
        incarnation: args.incarnation,
        sql_sleep: args.sql_sleep,
    };
    let handle = match args.driver {
        Driver::Sqlx => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(args.pool)
                .connect(&args.url)
                .await?;
            let mut registry = registry(&info, reliability_sqlx);
            registry.set_context(pool.clone());
            let mut runner = registry.runner(&pool);
            configure(&mut runner, args);
            runner.run().await?
        }
        Driver::TokioPostgres => {
            let config: tokio_postgres::Config = args.url.parse()?;
            let manager = deadpool_postgres::Manager::new(config.clone(), tokio_postgres::NoTls);
            let pool = deadpool_postgres::Pool::builder(manager)
                .max_size(args.pool as usize)
                .build()?;
            let mut registry = registry(&info, reliability_tokio_postgres);
            registry.set_context(pool.clone());
            let backend = mq::TokioPostgresBackend::new(pool, config);
            let mut runner = registry.runner(&backend);
            configure(&mut runner, args);
            runner.run().await?
        }
    };
    Ok(handle)
}

/// Runs a worker: says `ready` on standard output once its runner runs,
/// and stops gracefully when standard input closes.
pub async fn run(args: WorkerArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .init();
    let mut handle = start(&args)
        .await
        .with_context(|| format!("worker {} could not start", args.incarnation))?;
    let mut stdout = tokio::io::stdout();
    stdout.write_all(b"ready\n").await?;
    stdout.flush().await?;
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = String::new();
    while stdin.read_line(&mut line).await? > 0 {
        line.clear();
    }
    handle.stop().await;
    handle.wait_jobs_finish(Duration::from_secs(30)).await;
    Ok(())
}
