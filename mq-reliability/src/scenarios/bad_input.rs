//! Bad input against live worker processes: payloads the job cannot
//! decode, huge payloads, unknown job names, channel names and arguments
//! of any length and character. Each gets a clear outcome, and the workers
//! keep running.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use mq::{JobBuilder, JobState, Uuid};

use super::{Ctx, audit_checks};
use crate::client::{Client, Driver};
use crate::db::ScenarioDb;
use crate::fleet::{Fleet, WorkerSpec};
use crate::report::{Report, count};
use crate::task::{JOB_NAME, ORDERED_CHANNEL, Task, WORK_CHANNEL, builder};

/// Waits until job `id` is in `state`; returns its last error, if any.
async fn wait_state(db: &ScenarioDb, id: Uuid, state: JobState) -> Result<Option<String>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = mq::admin::get(&db.pool, id).await?;
        if let Some(info) = &info
            && info.state == state
        {
            return Ok(info.errors.last().map(|e| e.error.clone()));
        }
        if Instant::now() > deadline {
            bail!(
                "job {id} did not reach {state:?} within 60 s: {:?}",
                info.map(|i| i.state)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> Result<Report> {
    let huge_mb = 20;
    let mut report = Report::new(
        super::Scenario::BadInput.title(),
        format!(
            "Two worker processes (one per driver) take the work and ordered channels. The harness \
             spawns, through both drivers: payloads the job cannot decode, {huge_mb} MB payloads, a job \
             name no worker knows, channel names and arguments with quotes, unicode and 10 kB of text, \
             and channel arguments with a NUL byte. The typed refusals at spawn time (delays, retry \
             counts and intervals out of range, unknown ids to commit, a newer schema) are covered by \
             the end-to-end tests in tests/e2e/bad_input.rs and tests/e2e/migrations.rs, on all four \
             driver × runtime combinations."
        ),
    );
    let db = ScenarioDb::create(true).await?;
    let mut fleet = Fleet::new(db.url(), &ctx.log_dir);
    for driver in [Driver::Sqlx, Driver::TokioPostgres] {
        fleet
            .start(WorkerSpec::new(driver, Duration::from_secs(10)))
            .await?;
    }
    let wait = Duration::from_secs(30);
    let clients = Client::both(db.url(), 2, wait).await?;
    let mut must_complete = Vec::new();

    // A payload that is not a Task, and one that is not JSON at all: each
    // attempt fails with the decoding error; with no retries left, the job
    // is failed, kept, and says why.
    let mut undecodable = Vec::new();
    for client in &clients {
        let mut wrong_shape = JobBuilder::new(JOB_NAME);
        wrong_shape
            .set_channel_name(WORK_CHANNEL)
            .set_retries(1)
            .set_retry_backoff(Duration::from_millis(10))
            .set_raw_json(r#"{"not": "a task"}"#);
        undecodable.push(client.spawn(&wrong_shape).await?);
        let mut bytes = JobBuilder::new(JOB_NAME);
        bytes
            .set_channel_name(WORK_CHANNEL)
            .set_retries(0)
            .set_raw_bytes([0xff, 0x00, 0xfe]);
        undecodable.push(client.spawn(&bytes).await?);
    }
    let mut decode_errors = Vec::new();
    for id in &undecodable {
        decode_errors.push(wait_state(&db, *id, JobState::Failed).await?);
    }
    report.fact(
        "undecodable jobs failed for good, with their error kept",
        count(undecodable.len() as i64),
    );
    if let Some(Some(error)) = decode_errors.first() {
        report.fact(
            "the error a wrong-shaped payload left",
            format!("`{}`", error.replace('|', "/")),
        );
    }
    report.check(
        decode_errors.iter().all(|e| e.as_ref().is_some_and(|e| !e.is_empty())),
        "every undecodable payload failed its job with the decoding error recorded, and stayed in the queue to inspect",
    );

    // Huge payloads round-trip and complete.
    let pad = "x".repeat(huge_mb * 1024 * 1024);
    for (i, client) in clients.iter().enumerate() {
        let mut builder = builder(WORK_CHANNEL, "", false, &Task::new(i as i64, 0))?;
        let mut json: serde_json::Value = serde_json::to_value(Task::new(i as i64, 0))?;
        json["pad"] = serde_json::Value::String(pad.clone());
        builder.set_json(&json)?;
        must_complete.push(client.spawn(&builder).await?);
    }

    // Channel names and arguments of any length and character: the jobs
    // spawn (NOTIFY's 63-byte channel and 8000-byte payload limits must not
    // get in the way) and run.
    let long = "é\"'\\;--".repeat(10 * 1024 / 8);
    let odd_args = [
        "'quoted' \"double\" `back`",
        "ünïcødé ✓ 𝄞 漢字",
        long.as_str(),
    ];
    for (i, args) in odd_args.iter().enumerate() {
        for client in &clients {
            let task = Task::new(i as i64, 0);
            must_complete.push(
                client
                    .spawn(&builder(WORK_CHANNEL, args, false, &task)?)
                    .await?,
            );
            must_complete.push(
                client
                    .spawn(&builder(ORDERED_CHANNEL, args, true, &task)?)
                    .await?,
            );
        }
    }
    let mut parked = Vec::new();
    for client in &clients {
        // No worker takes this channel: the job waits, intact.
        let task = Task::new(0, 0);
        parked.push(client.spawn(&builder(&long, &long, false, &task)?).await?);
    }

    // An unknown job name waits for a worker that knows it.
    let mut unknown = Vec::new();
    for client in &clients {
        let mut builder = JobBuilder::new("no-such-job");
        builder.set_channel_name(WORK_CHANNEL).set_json(&0)?;
        unknown.push(client.spawn(&builder).await?);
    }

    // A NUL byte cannot be stored: a typed error, and nothing inserted.
    let mut nul_errors = Vec::new();
    let mut nul_inserted = false;
    for client in &clients {
        let refused = builder(WORK_CHANNEL, "a\0b", false, &Task::new(0, 0))?;
        match client.spawn(&refused).await {
            Err(error @ mq::Error::InvalidInput { .. }) => nul_errors.push(error.to_string()),
            other => bail!("a NUL in the channel arguments gave {other:?}"),
        }
        nul_inserted |= mq::admin::get(&db.pool, refused.id()).await?.is_some();
    }
    report.fact(
        "a NUL byte in channel arguments",
        format!("`{}`", nul_errors[0]),
    );
    report.check(
        nul_errors.len() == clients.len() && !nul_inserted,
        "channel arguments with a NUL byte were refused with a typed error (Error::InvalidInput) by both drivers, and nothing was inserted",
    );

    // The workers are still there: a plain job after all that completes.
    for (i, client) in clients.iter().enumerate() {
        must_complete.push(
            client
                .spawn(&builder(
                    WORK_CHANNEL,
                    "",
                    false,
                    &Task::new(100 + i as i64, 0),
                )?)
                .await?,
        );
    }
    let drained = db.wait_for(&must_complete, Duration::from_secs(60)).await?;
    report.check(
        drained.is_some(),
        format!(
            "{} MB payloads, quoted, unicode and 10 kB channel arguments (ordered and not) all completed, and the workers kept running",
            huge_mb
        ),
    );
    let mut parked_ok = true;
    for id in parked.iter().chain(&unknown) {
        let info = mq::admin::get(&db.pool, *id).await?;
        parked_ok &= info.is_some_and(|i| matches!(i.state, JobState::Ready | JobState::Scheduled));
    }
    report.check(
        parked_ok,
        "jobs of an unknown name, and on a 10 kB channel name no worker takes, wait in the queue, not lost",
    );
    fleet.stop_all().await?;
    mq::admin::delete(&db.pool, &undecodable).await?;
    mq::admin::delete(&db.pool, &parked).await?;
    mq::admin::delete(&db.pool, &unknown).await?;
    let audit = db.audit(&must_complete).await?;
    audit_checks(&mut report, &audit);
    Ok(report)
}
