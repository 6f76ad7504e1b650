//! A worker end to end on the tokio-postgres driver (deadpool for pooling,
//! no sqlx): migrate, start a runner, spawn jobs (one in a transaction that
//! rolls back), and complete a job in the transaction that writes its
//! effect.
//!
//! Run it with `scripts/run-example.sh tokio_postgres` (which starts a
//! throwaway PostgreSQL), or
//! `DATABASE_URL=postgres://... cargo run --example tokio_postgres --all-features`.

use std::error::Error;
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, Pool};
use mq::{CurrentJob, JobRegistry, TokioPostgresBackend, job};
use tokio_postgres::NoTls;

/// Welcomes a user: marks them welcomed and completes the job in one
/// transaction, so the mark is written exactly once. The first attempt
/// fails after its write, to show that the write rolls back with it.
#[job(channel_name = "welcome", backoff_secs = 0.2)]
async fn welcome(
    mut job: CurrentJob,
    pool: Pool,
) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
    let user: String = job.json()?.ok_or("welcome needs a user")?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute(
        "UPDATE users SET welcomes = welcomes + 1 WHERE name = $1",
        &[&user],
    )
    .await?;
    if job.attempt() == 1 {
        println!("  ! attempt 1 for {user}: wrote, then failed; the write rolls back");
        return Err("the greeting card printer jammed".into());
    }
    // Commits `tx`: the write and the completion, together.
    job.complete_with_transaction(tx).await?;
    println!("  ✉ welcomed {user} (attempt {})", job.attempt());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| "set DATABASE_URL (scripts/run-example.sh does)")?;

    // The pool, and the config it connects with: the runner needs the
    // config too, for its LISTEN connection (outside the pool).
    let config: tokio_postgres::Config = url.parse()?;
    let pool = Pool::builder(Manager::new(config.clone(), NoTls))
        .max_size(10)
        .build()?;
    mq::migrate(&pool).await?;
    mq::clear_all(&pool).await?;
    pool.get()
        .await?
        .batch_execute(
            "DROP TABLE IF EXISTS users;
             CREATE TABLE users (name text PRIMARY KEY, welcomes int NOT NULL DEFAULT 0);
             INSERT INTO users (name) VALUES ('ada'), ('grace'), ('edsger');",
        )
        .await?;
    println!("migrated; starting a runner");

    let mut registry = JobRegistry::new(&[welcome]);
    registry.set_context(pool.clone());
    registry.set_error_handler(|name, error| println!("  ! job {name} failed: {error}"));
    let backend = TokioPostgresBackend::new(pool.clone(), config);
    let mut runner = registry
        .runner(&backend)
        .set_concurrency(2, 4)
        .run()
        .await?;

    // Spawned on the pool: one round trip for the batch.
    let builders = ["ada", "grace"]
        .into_iter()
        .map(|user| {
            let mut builder = welcome.builder();
            builder.set_json(&user)?;
            Ok(builder)
        })
        .collect::<mq::Result<Vec<_>>>()?;
    let mut ids = mq::spawn_many(&pool, &builders).await?;

    // Spawned in a transaction: it exists only if the transaction commits.
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let ghost = welcome.builder().set_json(&"nobody")?.spawn(&tx).await?;
    tx.rollback().await?;
    println!(
        "spawned {ghost} in a rolled-back transaction: exists = {}",
        mq::exists(&pool, ghost).await?
    );
    let tx = client.transaction().await?;
    ids.push(welcome.builder().set_json(&"edsger")?.spawn(&tx).await?);
    tx.commit().await?;
    drop(client);

    let deadline = Instant::now() + Duration::from_secs(30);
    for id in &ids {
        while mq::exists(&pool, *id).await? {
            if Instant::now() > deadline {
                return Err(format!("job {id} still pending after 30 s").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let client = pool.get().await?;
    for row in client
        .query("SELECT name, welcomes FROM users ORDER BY name", &[])
        .await?
    {
        let (name, welcomes): (String, i32) = (row.get(0), row.get(1));
        println!("{name}: welcomed {welcomes} time(s)");
        assert_eq!(welcomes, 1, "every user is welcomed exactly once");
    }
    println!("all {} jobs completed; stopping", ids.len());
    runner.stop().await;
    runner.wait_jobs_finish(Duration::from_secs(5)).await;
    Ok(())
}
