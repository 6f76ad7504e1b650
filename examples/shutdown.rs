//! Graceful shutdown: on Ctrl-C (or after a few seconds) stop taking jobs,
//! let the running ones finish, then exit.
//!
//! `scripts/run-example.sh shutdown`

use std::error::Error;
use std::time::Duration;

use mq::{CurrentJob, JobRegistry, job};
use sqlx::PgPool;

#[job]
async fn slow(mut job: CurrentJob) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
    let n: u32 = job.json()?.unwrap_or_default();
    tokio::time::sleep(Duration::from_millis(700)).await;
    job.complete().await?;
    println!("  finished job {n}");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let pool = PgPool::connect(&std::env::var("DATABASE_URL")?).await?;
    mq::migrate(&pool).await?;
    mq::clear_all(&pool).await?;
    let mut runner = JobRegistry::new(&[slow])
        .runner(&pool)
        .set_concurrency(2, 4)
        .run()
        .await?;
    for n in 0..20 {
        slow.builder().set_json(&n)?.spawn(&pool).await?;
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => println!("Ctrl-C: shutting down"),
        _ = tokio::time::sleep(Duration::from_secs(2)) => println!("time is up: shutting down"),
    }
    runner.stop().await;
    println!(
        "stopped taking jobs; {} still running",
        runner.num_running_jobs()
    );
    if runner.wait_jobs_finish(Duration::from_secs(10)).await {
        println!("all running jobs finished");
    }
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM mq_jobs")
        .fetch_one(&pool)
        .await?;
    println!("{left} jobs left in the queue for the next worker");
    Ok(())
}
