//! A worker end to end: migrate, start a runner, spawn jobs, watch them run.
//!
//! Run it with `scripts/run-example.sh quickstart` (which starts a throwaway
//! PostgreSQL), or `DATABASE_URL=postgres://... cargo run --example quickstart`.

use std::error::Error;
use std::time::Duration;

use mq::{CurrentJob, JobRegistry, job};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPoolOptions;

#[derive(Debug, Serialize, Deserialize)]
struct Email {
    to: String,
    subject: String,
}

/// Sends an email (prints it). The first attempt of every third email
/// fails, to show retries.
#[job(channel_name = "emails", retries = 3, backoff_secs = 0.2)]
async fn send_email(
    mut job: CurrentJob,
    sender: &'static str,
) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
    let email: Email = job.json()?.ok_or("an email job needs a payload")?;
    let n: u32 = email
        .subject
        .trim_start_matches("Report #")
        .parse()
        .unwrap_or(0);
    if n.is_multiple_of(3) && job.attempt() == 1 {
        println!(
            "  ! attempt {} of email {n} to {} failed; it will be retried",
            job.attempt(),
            email.to
        );
        return Err("the mail server is having a bad day".into());
    }
    println!(
        "  ✉ {sender} -> {}: {:?} (attempt {})",
        email.to,
        email.subject,
        job.attempt()
    );
    job.complete().await?;
    Ok(())
}

/// Runs strictly after the previous `audit` job of the same account.
#[job(channel_name = "audit", ordered)]
async fn audit(mut job: CurrentJob) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
    let step: u32 = job.json()?.unwrap_or_default();
    println!("  ≡ audit of account {}: step {step}", job.channel_args());
    job.complete().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| "set DATABASE_URL (scripts/run-example.sh does)")?;
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .connect(&url)
        .await?;
    mq::migrate(&pool).await?;
    mq::clear_all(&pool).await?;
    println!("migrated; starting a runner");

    let mut registry = JobRegistry::new(&[send_email, audit]);
    registry.set_context("reports@example.com");
    registry.set_error_handler(|name, error| println!("  ! job {name} failed: {error}"));
    let mut runner = registry.runner(&pool).set_concurrency(4, 8).run().await?;

    println!("spawning 9 emails one by one, and 6 audit steps for two accounts in one batch");
    let mut ids = Vec::new();
    for n in 1..=9 {
        let email = Email {
            to: format!("user{n}@example.com"),
            subject: format!("Report #{n}"),
        };
        ids.push(send_email.builder().set_json(&email)?.spawn(&pool).await?);
    }
    let mut steps = Vec::new();
    for step in 1..=3 {
        for account in ["alice", "bob"] {
            let mut builder = audit.builder();
            builder.set_channel_args(account).set_json(&step)?;
            steps.push(builder);
        }
    }
    ids.extend(mq::spawn_many(&pool, &steps).await?);

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut pending = 0;
        for id in &ids {
            if mq::exists(&pool, *id).await? {
                pending += 1;
            }
        }
        if pending == 0 {
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("{pending} jobs still pending after 30 s").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("all {} jobs completed; stopping", ids.len());
    runner.stop().await;
    runner.wait_jobs_finish(Duration::from_secs(5)).await;
    Ok(())
}
