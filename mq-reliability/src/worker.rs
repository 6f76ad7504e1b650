//! A worker process: a runner on one driver, running the reliability job,
//! until its standard input closes (a graceful stop) or it is killed.
//!
//! The job writes what the harness checks: a `rel_started` row when an
//! attempt starts (outside any transaction, so a killed attempt leaves it
//! behind), then its side effect, a `rel_effects` row, in the transaction
//! that completes the job. It takes that job from every channel a scenario
//! spawns on (the limits scenario's limited ones included: the limits
//! themselves live in the database, not in the worker's options).
//!
//! With `--schedule-lease-ms`, the worker also declares the periodic
//! scenario's schedule, a job every second, and runs that job, which only
//! records its start (`rel_tick_starts`) and completes. Every connection of
//! a worker carries its incarnation in its `application_name`, so that the
//! harness can tell, on the server, which process wrote what.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use mq::{
    BoxError, CurrentJob, JobRegistry, JobRunnerHandle, JobRunnerOptions, MissedTicks, Schedule,
    job,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::client::Driver;
use crate::task::{
    LIMITED_CHANNEL, ORDERED_CHANNEL, PER_ARGS_CHANNEL, PERIODIC_CHANNEL, PERIODIC_JOB, Task,
    UNLIMITED_CHANNEL, WORK_CHANNEL, now_us, probe_channel,
};

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
    /// Declares the periodic schedule (see [`periodic_schedule`]), with
    /// this schedule lease in ms, and runs its job.
    #[arg(long)]
    pub schedule_lease_ms: Option<u64>,
}

/// The `application_name` of worker `incarnation`'s connections.
pub fn application_name(incarnation: i32) -> String {
    format!("mq-reliability worker {incarnation}")
}

/// The worker whose connections carry `application_name`, if one does.
pub fn incarnation_of(application_name: &str) -> Option<i32> {
    application_name
        .strip_prefix("mq-reliability worker ")?
        .parse()
        .ok()
}

/// The periodic scenario's schedule: its job every second, every tick
/// spawned. A tick counts as on time for a minute, far longer than a dead
/// leader takes to be replaced, and up to 1,000 ticks missed beyond that
/// are backfilled: whatever the kills, no tick may be skipped.
pub fn periodic_schedule() -> mq::Result<Schedule> {
    Ok(Schedule::every(PERIODIC_JOB, Duration::from_secs(1))?
        .set_missed(MissedTicks::Backfill { max: 1000 })
        .set_missed_after(Duration::from_secs(60)))
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

/// Written when an attempt of the periodic job starts, outside any
/// transaction: into a table without a unique constraint, so that a tick
/// run as two jobs leaves two rows, not an error.
const INSERT_TICK_START: &str =
    "INSERT INTO rel_tick_starts (job_id, incarnation, attempt) VALUES ($1, $2, $3)";

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

/// The periodic job on sqlx: records its start, and completes. (Its name
/// is [`PERIODIC_JOB`]'s, its channel [`PERIODIC_CHANNEL`]'s; as many
/// retries as the reliability job, so that kills never fail it for good.)
#[job(
    name = "periodic",
    channel_name = "periodic",
    retries = 10000,
    backoff_secs = 0.05
)]
async fn periodic_sqlx(
    mut job: CurrentJob,
    pool: sqlx::PgPool,
    worker: WorkerInfo,
) -> Result<(), BoxError> {
    sqlx::query(INSERT_TICK_START)
        .bind(job.id())
        .bind(worker.incarnation)
        .bind(job.attempt())
        .execute(&pool)
        .await?;
    job.complete().await?;
    Ok(())
}

/// The periodic job on tokio-postgres (see [`periodic_sqlx`]).
#[job(
    name = "periodic",
    channel_name = "periodic",
    retries = 10000,
    backoff_secs = 0.05
)]
async fn periodic_tokio_postgres(
    mut job: CurrentJob,
    pool: deadpool_postgres::Pool,
    worker: WorkerInfo,
) -> Result<(), BoxError> {
    pool.get()
        .await?
        .execute(
            INSERT_TICK_START,
            &[&job.id(), &worker.incarnation, &job.attempt()],
        )
        .await?;
    job.complete().await?;
    Ok(())
}

fn configure(runner: &mut JobRunnerOptions, args: &WorkerArgs) {
    runner
        .set_channel_names(&[
            WORK_CHANNEL.to_owned(),
            ORDERED_CHANNEL.to_owned(),
            PERIODIC_CHANNEL.to_owned(),
            LIMITED_CHANNEL.to_owned(),
            PER_ARGS_CHANNEL.to_owned(),
            UNLIMITED_CHANNEL.to_owned(),
            probe_channel(args.incarnation),
        ])
        .set_concurrency(args.min, args.max)
        .set_lease(Duration::from_millis(args.lease_ms))
        .set_poll_interval(Duration::from_millis(args.poll_ms));
    if let Some(lease_ms) = args.schedule_lease_ms {
        runner.set_schedule_lease(Duration::from_millis(lease_ms));
    }
}

/// The registry of the reliability job `job`, and, if the worker declares
/// the periodic schedule, of `periodic` and the schedule.
fn registry(
    info: &WorkerInfo,
    args: &WorkerArgs,
    job: &'static mq::NamedJob,
    periodic: &'static mq::NamedJob,
) -> Result<JobRegistry> {
    let mut registry = JobRegistry::new(&[job]);
    if args.schedule_lease_ms.is_some() {
        registry.add(periodic);
        registry.add_schedule(periodic_schedule()?);
    }
    registry.set_context(info.clone());
    registry.set_error_handler(|name, error| {
        eprintln!("job {name} failed: {}", mq::error_text(error.as_ref()));
    });
    Ok(registry)
}

async fn start(args: &WorkerArgs) -> Result<JobRunnerHandle> {
    let info = WorkerInfo {
        incarnation: args.incarnation,
        sql_sleep: args.sql_sleep,
    };
    let application_name = application_name(args.incarnation);
    let handle = match args.driver {
        Driver::Sqlx => {
            let options = args
                .url
                .parse::<sqlx::postgres::PgConnectOptions>()?
                .application_name(&application_name);
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(args.pool)
                .connect_with(options)
                .await?;
            let mut registry = registry(&info, args, reliability_sqlx, periodic_sqlx)?;
            registry.set_context(pool.clone());
            let mut runner = registry.runner(&pool);
            configure(&mut runner, args);
            runner.run().await?
        }
        Driver::TokioPostgres => {
            let mut config: tokio_postgres::Config = args.url.parse()?;
            config.application_name(&application_name);
            let manager = deadpool_postgres::Manager::new(config.clone(), tokio_postgres::NoTls);
            let pool = deadpool_postgres::Pool::builder(manager)
                .max_size(args.pool as usize)
                .build()?;
            let mut registry = registry(
                &info,
                args,
                reliability_tokio_postgres,
                periodic_tokio_postgres,
            )?;
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
