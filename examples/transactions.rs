//! Jobs and the application's own transactions: a spawn that rolls back
//! never runs; a completion committed with the job's writes applies them
//! exactly once, even when the first attempt's transaction fails.
//!
//! `scripts/run-example.sh transactions`

use std::error::Error;
use std::time::Duration;

use mq::{CurrentJob, JobRegistry, job};
use sqlx::PgPool;

/// Credits an account, once: the credit and the completion commit together.
#[job(backoff_secs = 0.1)]
async fn credit(
    mut job: CurrentJob,
    pool: PgPool,
) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
    let amount: i64 = job.json()?.ok_or("credit needs an amount")?;
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE account SET balance = balance + $1")
        .bind(amount)
        .execute(&mut *tx)
        .await?;
    if job.attempt() == 1 {
        // Something fails after the write: the transaction rolls back, the
        // credit with it, and the job is retried.
        println!("  attempt 1: credited {amount}, then failed; rolling back");
        return Err("simulated failure after the write".into());
    }
    job.complete_with_transaction(tx).await?;
    println!(
        "  attempt {}: credited {amount} and completed in one transaction",
        job.attempt()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let pool = PgPool::connect(&std::env::var("DATABASE_URL")?).await?;
    mq::migrate(&pool).await?;
    sqlx::raw_sql("DROP TABLE IF EXISTS account; CREATE TABLE account (balance bigint NOT NULL); INSERT INTO account VALUES (0);")
        .execute(&pool)
        .await?;

    let mut registry = JobRegistry::new(&[credit]);
    registry.set_context(pool.clone());
    registry.set_error_handler(|name, error| println!("  ! {name}: {error}"));
    let mut runner = registry.runner(&pool).run().await?;

    // A spawn in a transaction that rolls back leaves nothing behind.
    let mut tx = pool.begin().await?;
    let ghost = credit.builder().set_json(&1000)?.spawn(&mut *tx).await?;
    tx.rollback().await?;
    println!(
        "spawned {ghost} in a rolled-back transaction: exists = {}",
        mq::exists(&pool, ghost).await?
    );

    // A spawn that commits runs; its credit is applied once.
    let mut tx = pool.begin().await?;
    let id = credit.builder().set_json(&42)?.spawn(&mut *tx).await?;
    tx.commit().await?;
    while mq::exists(&pool, id).await? {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let balance: i64 = sqlx::query_scalar("SELECT balance FROM account")
        .fetch_one(&pool)
        .await?;
    println!("balance: {balance} (42 credited exactly once)");
    runner.stop().await;
    assert_eq!(balance, 42);
    Ok(())
}
