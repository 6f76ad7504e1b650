//! A worker end to end on async-std, with the sqlx driver: migrate, start a
//! runner, spawn jobs, wait for them, stop. No tokio runtime exists in this
//! process: sqlx runs on its async-std runtime, and mq's runner on
//! `mq::AsyncStdSpawner`.
//!
//! Run it with `scripts/run-example.sh async_std` (which starts a throwaway
//! PostgreSQL), or
//! `DATABASE_URL=postgres://... cargo run --example async_std --no-default-features --features driver-sqlx,runtime-async-std,macros`.
//!
//! In an application, depend on mq with the async-std runtime only:
//!
//! ```toml
//! mq = { path = "...", default-features = false, features = ["driver-sqlx", "runtime-async-std", "macros"] }
//! sqlx = { version = "0.9", features = ["postgres", "runtime-async-std"] }
//! async-std = { version = "1.13", features = ["attributes"] }
//! ```
//!
//! (Built with both runtime features, as `scripts/run-example.sh` builds
//! it, mq picks async-std here because `main` is not inside a tokio
//! runtime.)

use std::error::Error;
use std::time::{Duration, Instant};

use mq::{CurrentJob, JobRegistry, job};
use sqlx::postgres::PgPoolOptions;

/// Resizes an image (prints it). The first attempt of the second image
/// fails, to show a retry.
#[job(channel_name = "images", retries = 2, backoff_secs = 0.2)]
async fn resize(mut job: CurrentJob) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
    let image: String = job.json()?.ok_or("resize needs an image name")?;
    if image == "b.png" && job.attempt() == 1 {
        println!("  ! {image}: attempt 1 failed; it will be retried");
        return Err("out of pixels".into());
    }
    // A job's own work uses async-std too.
    async_std::task::sleep(Duration::from_millis(50)).await;
    println!(
        "  ▣ resized {image} (attempt {}, on thread {:?})",
        job.attempt(),
        std::thread::current().name().unwrap_or("?")
    );
    job.complete().await?;
    Ok(())
}

#[async_std::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("DATABASE_URL")
        .map_err(|_| "set DATABASE_URL (scripts/run-example.sh does)")?;
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect(&url)
        .await?;
    mq::migrate(&pool).await?;
    mq::clear_all(&pool).await?;
    println!("migrated; starting a runner on async-std");

    let mut registry = JobRegistry::new(&[resize]);
    registry.set_error_handler(|name, error| println!("  ! job {name} failed: {error}"));
    let mut runner = registry.runner(&pool).set_concurrency(2, 4).run().await?;

    let mut ids = Vec::new();
    for image in ["a.png", "b.png", "c.png", "d.png"] {
        ids.push(resize.builder().set_json(&image)?.spawn(&pool).await?);
    }
    println!("spawned {} jobs", ids.len());

    let deadline = Instant::now() + Duration::from_secs(30);
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
        if Instant::now() > deadline {
            return Err(format!("{pending} jobs still pending after 30 s").into());
        }
        async_std::task::sleep(Duration::from_millis(100)).await;
    }
    println!("all {} jobs completed; stopping", ids.len());
    runner.stop().await;
    runner.wait_jobs_finish(Duration::from_secs(5)).await;
    Ok(())
}
