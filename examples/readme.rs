//! The code snippets of README.md, compiled. `tests/readme.rs` checks that
//! every ```rust block of the README appears here line for line, so the
//! README cannot drift from code that builds.
//!
//! Running it (`scripts/run-example.sh readme`) spawns two emails and runs
//! them. `cargo test --example readme --all-features` runs the tests of the
//! snippets on testing (the README's own test, and the conformance suite on
//! its backend).

use std::time::Duration;

// README: define jobs
use mq::{CurrentJob, job};
use std::error::Error;

#[job(channel_name = "emails", retries = 3, backoff_secs = 2.0)]
async fn send_email(
    mut job: CurrentJob,  // first argument: the job
    sender: &'static str, // more arguments: context values, by type
) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
    let to: Option<String> = job.json()?;
    println!("{sender} -> {}", to.as_deref().unwrap_or("nobody"));
    job.complete().await?;
    Ok(())
}

async fn run_spawn_and_stop(database_url: String) -> Result<(), Box<dyn Error>> {
    // README: run them
    let pool = sqlx::PgPool::connect(&database_url).await?;
    mq::migrate(&pool).await?; // safe to call from every process at start-up

    let mut registry = mq::JobRegistry::new(&[send_email]);
    registry.set_context("reports@example.com");
    let mut runner = registry
        .runner(&pool)
        .set_concurrency(10, 20) // keep 10 to 20 jobs running
        .run()
        .await?; // runs until `runner` is stopped or dropped

    // README: spawn them
    send_email
        .builder()
        .set_json("ada@example.com")?
        .spawn(&pool)
        .await?;

    let mut tx = pool.begin().await?;
    // ... your own writes ...
    send_email
        .builder()
        .set_json("bob@example.com")?
        .spawn(&mut *tx)
        .await?;
    tx.commit().await?; // the job exists only if this commits

    tokio::time::sleep(Duration::from_secs(1)).await;

    // README: stop them
    runner.stop().await; // claim no more jobs
    runner.wait_jobs_finish(Duration::from_secs(30)).await; // let the running ones finish
    Ok(())
}

#[allow(dead_code)]
async fn complete_with_effects(
    pool: &sqlx::PgPool,
    mut job: CurrentJob,
    id: i64,
) -> Result<(), Box<dyn Error>> {
    // README: complete a job together with its effects
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE accounts SET welcomed = true WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    job.complete_with_transaction(tx).await?; // commits tx; or pass &mut *tx and commit yourself
    Ok(())
}

#[allow(dead_code)]
async fn failed_jobs_and_inspection(
    pool: sqlx::PgPool,
    id: mq::Uuid,
) -> Result<(), Box<dyn Error>> {
    // README: failed jobs
    use mq::JobState;
    use mq::admin::{self, JobQuery};

    // What failed, and why.
    let failed = admin::list(&pool, JobQuery::new().set_state(JobState::Failed)).await?;
    for job in &failed.jobs {
        let error = job.last_error.as_ref().map_or("", |e| e.error.as_str());
        println!("{} {} (attempt {}): {error}", job.id, job.name, job.attempt);
    }

    // Everything about one job, with its error history.
    if let Some(job) = admin::get(&pool, id).await? {
        for error in &job.errors {
            println!("attempt {} at {}: {}", error.attempt, error.at, error.error);
        }
    }

    // Run failed jobs again, with a full set of attempts (the history stays)...
    admin::retry(&pool, &[id]).await?;
    admin::retry_failed(&pool, Some("emails")).await?; // every failed job of a channel name
    // ...or give up on them.
    admin::delete(&pool, &[id]).await?;

    // README: inspecting the queue
    let mut query = JobQuery::new();
    query.set_channel_name("emails").set_limit(500);
    loop {
        let page = admin::list(&pool, &query).await?;
        for job in &page.jobs {
            println!("{} {} {}", job.id, job.state, job.run_at);
        }
        let Some(cursor) = page.next else { break };
        query.set_after(cursor);
    }

    let stats = admin::stats(&pool).await?;
    println!(
        "ready: {}, running: {}, failed: {}, oldest ready job waiting: {:?}",
        stats.total(JobState::Ready),
        stats.running(),
        stats.total(JobState::Failed),
        stats.oldest_ready_age(),
    );
    for row in &stats.counts {
        println!("{} {}: {}", row.channel_name, row.state, row.count);
    }
    Ok(())
}

#[allow(dead_code)]
async fn keeping_completed_jobs(
    pool: sqlx::PgPool,
    registry: mq::JobRegistry,
) -> Result<mq::JobRunnerHandle, Box<dyn Error>> {
    use mq::JobState;
    use mq::admin;

    // README: keeping completed jobs
    let runner = registry
        .runner(&pool)
        .set_keep_completed(true) // completed jobs stay, in state `completed`
        .run()
        .await?;

    // From a periodic job or cron: delete what finished more than a week ago.
    let week = Duration::from_secs(7 * 24 * 3600);
    admin::prune(&pool, week, &[JobState::Completed, JobState::Failed]).await?;
    Ok(runner)
}

#[allow(dead_code)]
async fn an_urgent_job(pool: sqlx::PgPool) -> Result<(), Box<dyn Error>> {
    use mq::JobBuilder;

    // README: priorities
    // Behind 100,000 queued exports, this one runs next.
    JobBuilder::new("export")
        .set_channel_name("exports")
        .set_priority(10)
        .spawn(&pool)
        .await?;
    Ok(())
}

#[allow(dead_code)]
async fn a_unique_job(pool: sqlx::PgPool, feed_id: u64) -> Result<(), Box<dyn Error>> {
    use mq::JobBuilder;

    // README: unique jobs
    let mut refresh = JobBuilder::new("refresh_feed");
    refresh.set_unique_key(format!("feed:{feed_id}"));
    match refresh.spawn_deduplicated(&pool).await? {
        mq::Spawned::Inserted(id) => println!("queued {id}"),
        mq::Spawned::Duplicate(id) => println!("already queued as {id}"),
    }
    Ok(())
}

// README: periodic jobs
/// Every day at 3 a.m., Paris time.
#[mq::job(cron = "0 0 3 * * *", time_zone = "Europe/Paris")]
async fn nightly_report(mut job: mq::CurrentJob) -> Result<(), mq::BoxError> {
    job.complete().await?;
    Ok(())
}

// README: a periodic job's tick
/// Sums up the day before the tick, however late it runs.
#[mq::job(cron = "0 0 0 * * *")]
async fn daily_totals(mut job: mq::CurrentJob) -> Result<(), mq::BoxError> {
    if let Some(tick) = job.tick() {
        let day = tick.date().previous_day();
        println!("totals of {day:?}");
    }
    job.complete().await?;
    Ok(())
}

#[allow(dead_code)]
async fn periodic_jobs(pool: sqlx::PgPool) -> Result<(), Box<dyn Error>> {
    use mq::{JobRegistry, MissedTicks, Schedule};

    // README: schedules at run time
    let registry = JobRegistry::new(&[nightly_report, daily_totals, send_email]);
    // Every 30 seconds; after an outage, up to 100 missed ticks run.
    registry.add_schedule(
        Schedule::every("send_email", Duration::from_secs(30))?
            .set_name("digest")?
            .set_json(&"digest@example.com")?
            .set_missed(MissedTicks::Backfill { max: 100 }),
    );
    let _runner = registry.runner(&pool).run().await?;
    for schedule in mq::admin::schedules(&pool).await? {
        println!("{} next at {}", schedule.name, schedule.next_run_at);
    }
    registry.remove_schedule("digest");
    Ok(())
}

#[allow(dead_code)]
async fn channel_limits(pool: sqlx::PgPool) -> Result<(), Box<dyn Error>> {
    use mq::admin::{self, ChannelLimit};

    // README: channel limits
    // The partner's API takes 40 calls at once and 100 a second, from all
    // our processes together.
    let partner = ChannelLimit::new("partner_api")
        .set_concurrency(40)?
        .set_rate(100, Duration::from_secs(1))?;
    admin::set_limit(&pool, &partner).await?;
    // Each customer's exports run one at a time (the channel's arguments
    // name the customer).
    let exports = ChannelLimit::new("exports")
        .set_concurrency(1)?
        .set_per_args(true);
    admin::set_limit(&pool, &exports).await?;
    for limit in admin::limits(&pool).await? {
        println!(
            "{}: {} running, {} waiting",
            limit.limit.channel_name(),
            limit.running,
            limit.waiting
        );
    }
    Ok(())
}

#[allow(dead_code)]
async fn cancelling_a_job(pool: sqlx::PgPool, id: mq::Uuid) -> Result<(), Box<dyn Error>> {
    use mq::CancelOutcome;

    // README: cancelling a job
    match mq::cancel(&pool, id).await? {
        CancelOutcome::Cancelled => println!("it will not run"),
        CancelOutcome::CancelledRunning => println!("its runner tells it to stop"),
        CancelOutcome::Finished(state) => println!("too late: it is {state}"),
        _ => {}
    }
    Ok(())
}

#[mq::job]
async fn export_report(mut job: mq::CurrentJob) -> Result<(), mq::BoxError> {
    // README: a job that stops when cancelled
    for chunk in 0..100 {
        if job.is_cancelled() {
            return Ok(()); // nothing more will be recorded for this attempt
        }
        write_chunk(chunk).await?;
    }
    job.complete().await?;
    Ok(())
}

#[allow(dead_code)]
async fn write_chunk(_chunk: u32) -> Result<(), mq::BoxError> {
    Ok(())
}

#[mq::job]
async fn call_partner_api(mut job: mq::CurrentJob) -> Result<(), mq::BoxError> {
    // README: snoozing a job
    if let Some(retry_after) = rate_limited().await {
        job.snooze(retry_after).await?; // runs again later; this attempt does not count
        return Ok(());
    }
    job.complete().await?;
    Ok(())
}

#[allow(dead_code)]
async fn rate_limited() -> Option<Duration> {
    None
}

#[allow(dead_code)]
async fn pausing_a_channel(pool: sqlx::PgPool) -> Result<(), Box<dyn Error>> {
    use mq::admin;

    // README: pausing a channel
    admin::pause(&pool, "emails").await?; // every runner leaves its jobs from now on
    let stats = admin::stats(&pool).await?;
    assert!(stats.is_paused("emails"));
    // ... the mail provider is back ...
    admin::resume(&pool, "emails").await?; // runners are woken and take its jobs again
    Ok(())
}

#[allow(dead_code)]
async fn through_pgbouncer(
    pgbouncer_url: String,
    direct_url: String,
    registry: mq::JobRegistry,
) -> Result<mq::JobRunnerHandle, Box<dyn Error>> {
    // README: through PgBouncer
    use sqlx::postgres::PgConnectOptions;

    // PgBouncer for the pool; PostgreSQL itself for the wake-up connection.
    let pool = sqlx::PgPool::connect(&pgbouncer_url).await?;
    let direct: PgConnectOptions = direct_url.parse()?;
    let backend = mq::SqlxBackend::new(pool.clone())
        .transaction_pooled()
        .listen_with(direct); // or leave it out: runners poll
    let runner = registry.runner(&backend).run().await?;

    // Spawn through the backend, or wrap your own handles.
    send_email
        .builder()
        .set_json("ada@example.com")?
        .spawn(&backend)
        .await?;
    let mut tx = pool.begin().await?;
    send_email
        .builder()
        .set_json("grace@example.com")?
        .spawn(mq::TransactionPooled(&mut *tx))
        .await?;
    tx.commit().await?;
    Ok(runner)
}

#[cfg(feature = "driver-tokio-postgres")]
#[allow(dead_code)]
async fn tokio_postgres_driver(
    database_url: String,
    registry: mq::JobRegistry,
) -> Result<mq::JobRunnerHandle, Box<dyn Error>> {
    // README: the tokio-postgres driver
    use deadpool_postgres::{Manager, Pool};
    use tokio_postgres::NoTls;

    let config: tokio_postgres::Config = database_url.parse()?;
    let pool = Pool::builder(Manager::new(config.clone(), NoTls)).build()?;
    mq::migrate(&pool).await?;

    // Runners listen for wake-ups on a connection of their own, outside the
    // pool: they need the config, which a deadpool pool does not give back.
    let backend = mq::TokioPostgresBackend::new(pool.clone(), config);
    let runner = registry.runner(&backend).run().await?;

    send_email
        .builder()
        .set_json("ada@example.com")?
        .spawn(&pool)
        .await?;
    Ok(runner)
}

#[cfg(feature = "driver-tokio-postgres")]
#[allow(dead_code)]
async fn tokio_postgres_complete_with_effects(
    pool: &deadpool_postgres::Pool,
    mut job: CurrentJob,
    id: i64,
) -> Result<(), Box<dyn Error>> {
    // README: complete with the tokio-postgres driver
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("UPDATE accounts SET welcomed = true WHERE id = $1", &[&id])
        .await?;
    job.complete_with_transaction(tx).await?; // commits tx; or pass &tx and commit yourself
    Ok(())
}

#[cfg(all(feature = "driver-tokio-postgres", feature = "runtime-async-std"))]
#[allow(dead_code)]
async fn tokio_postgres_on_async_std(
    database_url: String,
) -> Result<mq::TokioPostgresBackend, Box<dyn Error>> {
    // README: tokio-postgres on async-std
    use deadpool_postgres::{Manager, ManagerConfig, Pool};

    let config: tokio_postgres::Config = database_url.parse()?;
    let manager = Manager::from_connect(
        config.clone(),
        mq::AsyncStdConnect::new(),
        ManagerConfig::default(),
    );
    let pool = Pool::builder(manager).build()?;
    let backend = mq::TokioPostgresBackend::new(pool.clone(), config);
    Ok(backend)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let database_url = std::env::var("DATABASE_URL")?;
    run_spawn_and_stop(database_url).await
}

// README: testing your jobs
#[cfg(feature = "testing")]
#[tokio::test]
async fn sends_an_email() -> Result<(), Box<dyn Error + Send + Sync>> {
    use mq::testing::{RunOutcome, run_job};

    let mut registry = mq::JobRegistry::new(&[send_email]);
    registry.set_context("reports@example.com");

    let outcome = run_job(&registry, send_email.builder().set_json("ada@example.com")?).await?;
    assert_eq!(outcome, RunOutcome::Completed { attempts: 1 });
    Ok(())
}

// README: writing a backend
// The backend itself is examples/counting_backend.rs, which CI runs.
#[cfg(feature = "testing")]
#[path = "counting_backend.rs"]
#[allow(dead_code)]
mod counting_backend;

#[cfg(feature = "testing")]
mod writing_a_backend {
    use super::counting_backend::CountingBackend;

    #[allow(dead_code)]
    async fn run_on_it(
        registry: mq::JobRegistry,
    ) -> std::result::Result<mq::JobRunnerHandle, Box<dyn std::error::Error>> {
        use super::send_email;

        // README: a runner on it
        use mq::testing::MemoryBackend;

        let backend = CountingBackend::new(MemoryBackend::new());
        let mut runner = registry
            .runner(&backend)
            .set_spawner(mq::default_spawner())
            .run()
            .await?;
        send_email
            .builder()
            .set_json("ada@example.com")?
            .spawn(&backend)
            .await?;
        println!("{:?}", backend.calls());
        runner.stop().await;
        Ok(runner)
    }

    // Outside `cargo test`, the suite's tests are left out, and with them
    // what only they use.
    #[cfg_attr(not(test), allow(dead_code, unused_imports))]
    mod conformance {
        use super::CountingBackend;

        // README: the conformance suite
        // tests/counting_backend.rs
        use mq::testing::MemoryBackend;
        // use your_crate::CountingBackend;

        async fn backend() -> CountingBackend<MemoryBackend> {
            CountingBackend::new(MemoryBackend::new())
        }

        mq::conformance_tests!(#[tokio::test], backend, mq::default_spawner());
    }
}

#[cfg(feature = "metrics")]
#[allow(dead_code)]
async fn export_metrics(
    pool: sqlx::PgPool,
    registry: mq::JobRegistry,
) -> Result<(), Box<dyn Error>> {
    use std::sync::Arc;
    // README: tracing and metrics
    let runner = registry
        .runner(&pool)
        .set_metrics(Arc::new(mq::metrics::MetricsExporter))
        .run()
        .await?;
    // In one process, every few seconds:
    mq::metrics::record_queue_stats(&mq::admin::stats(&pool).await?);
    drop(runner);
    Ok(())
}
