//! Registries: `#[job]` functions, context values, the error handler,
//! unknown jobs.

use std::time::Duration;

use mq::{CurrentJob, JobBuilder, JobRegistry, JobState, job};
use serde::Deserialize;

use crate::support::{Db, Driver, Log, wait_for};

type JobResult = Result<(), Box<dyn std::error::Error + Send + Sync + 'static>>;

/// Receives the log and a prefix from the registry's context.
#[job(channel_name = "registry", retries = 0)]
async fn greet(mut job: CurrentJob, log: Log<String>, prefix: &'static str) -> JobResult {
    let who: String = job.json()?.unwrap_or_default();
    log.push(format!("{prefix} {who}"));
    job.complete().await?;
    Ok(())
}

/// Fails its first attempt with an error, then completes.
#[job(backoff_secs = 0.01)]
async fn fails_once(mut job: CurrentJob) -> JobResult {
    if job.attempt() == 1 {
        return Err("the first attempt fails".into());
    }
    job.complete().await?;
    Ok(())
}

/// Panics on every attempt.
#[job(retries = 0)]
async fn always_panics(_job: CurrentJob) -> JobResult {
    panic!("this job always panics");
}

/// Returns without completing on its first attempt.
#[job(backoff_secs = 0.01)]
async fn forgets_to_complete(mut job: CurrentJob) -> JobResult {
    if job.attempt() > 1 {
        job.complete().await?;
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Order {
    id: u64,
}

/// Decodes its payload as an order.
#[job(retries = 0)]
async fn decode_order(mut job: CurrentJob) -> JobResult {
    let _order: Option<Order> = job.json()?;
    job.complete().await?;
    Ok(())
}

/// Known only to the second registry of `unknown_jobs_are_kept_for_a_runner_that_knows_them`.
#[job(name = "known_later")]
async fn known_later(mut job: CurrentJob) -> JobResult {
    job.complete().await?;
    Ok(())
}

/// A `#[job]` runs with its context values, through a registry.
pub async fn registry_runs_jobs_with_their_context<D: Driver>(db: &Db<D>) {
    let log: Log<String> = Log::default();
    let mut registry = JobRegistry::new(&[greet]);
    registry.set_context(log.clone()).set_context("hello");
    let _runner = registry.runner(db.src()).run().await.unwrap();
    let id = greet
        .builder()
        .set_json("world")
        .unwrap()
        .spawn(db.ex())
        .await
        .unwrap();
    db.wait_gone(id).await;
    assert_eq!(log.items(), vec!["hello world".to_owned()]);
}

/// Returned errors and panics reach the error handler, count as attempts,
/// and are stored as the job's last error.
pub async fn job_errors_reach_the_error_handler<D: Driver>(db: &Db<D>) {
    let registry = JobRegistry::new(&[fails_once, always_panics, forgets_to_complete]);
    let (_runner, errors) = run_logging_errors(db, registry).await;
    let once = fails_once.builder().spawn(db.ex()).await.unwrap();
    let panics = always_panics.builder().spawn(db.ex()).await.unwrap();
    let forgets = forgets_to_complete.builder().spawn(db.ex()).await.unwrap();
    db.wait_gone(once).await;
    db.wait_gone(forgets).await;
    db.wait_state(panics, JobState::Failed).await;
    let errors = errors.items();
    assert!(
        errors.contains(&(
            "fails_once".to_owned(),
            "the first attempt fails".to_owned()
        )),
        "{errors:?}"
    );
    assert!(
        errors.contains(&(
            "always_panics".to_owned(),
            "job panicked: this job always panics".to_owned()
        )),
        "{errors:?}"
    );
    let failed = mq::admin::get(db.ex(), panics).await.unwrap().unwrap();
    let history: Vec<(i32, &str)> = failed
        .errors
        .iter()
        .map(|e| (e.attempt, e.error.as_str()))
        .collect();
    assert_eq!(
        history.last(),
        Some(&(failed.attempt, "job panicked: this job always panics"))
    );
    assert_eq!(history.len(), failed.attempt as usize, "{history:?}");
}

/// A payload that does not decode gives the job a typed error.
pub async fn undecodable_payload_gives_a_typed_error<D: Driver>(db: &Db<D>) {
    let errors: Log<String> = Log::default();
    let handled = errors.clone();
    let mut registry = JobRegistry::new(&[decode_order]);
    registry.set_error_handler(move |_, error| match error.downcast_ref::<mq::Error>() {
        Some(mq::Error::PayloadDecode { type_name, .. }) => handled.push(type_name.to_string()),
        _ => handled.push(format!("unexpected: {error}")),
    });
    let _runner = registry.runner(db.src()).run().await.unwrap();
    let id = decode_order
        .builder()
        .set_json(&serde_json::json!({"id": "not a number"}))
        .unwrap()
        .spawn(db.ex())
        .await
        .unwrap();
    db.wait_state(id, JobState::Failed).await;
    let errors = errors.items();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].ends_with("::Order"), "{errors:?}");
}

/// A job no registry entry knows reaches the error handler and is kept,
/// without using up attempts, until a runner that knows it runs it.
pub async fn unknown_jobs_are_kept_for_a_runner_that_knows_them<D: Driver>(db: &Db<D>) {
    let errors: Log<String> = Log::default();
    let handled = errors.clone();
    let mut registry = JobRegistry::new(&[greet]);
    registry
        .set_context(Log::<String>::default())
        .set_context("hi")
        .set_error_handler(move |name, error| {
            assert!(error.downcast_ref::<mq::UnknownJob>().is_some(), "{error}");
            handled.push(name.to_owned());
        });
    let mut unaware = registry
        .runner(db.src())
        .set_unknown_job_delay(Duration::from_millis(100))
        .set_poll_interval(Duration::from_millis(50))
        .run()
        .await
        .unwrap();
    let id = JobBuilder::new("known_later")
        .set_retries(0)
        .spawn(db.ex())
        .await
        .unwrap();
    // Offered several times (more than its attempts), reported each time.
    wait_for("the unknown job to be reported", || async {
        errors.len() >= 3
    })
    .await;
    assert!(errors.items().iter().all(|name| name == "known_later"));
    unaware.stop().await;
    assert!(unaware.wait_jobs_finish(Duration::from_secs(10)).await);
    assert!(
        mq::exists(db.ex(), id).await.unwrap(),
        "an unknown job was dropped"
    );

    let _aware = JobRegistry::new(&[known_later])
        .runner(db.src())
        .set_poll_interval(Duration::from_millis(50))
        .run()
        .await
        .unwrap();
    db.wait_gone(id).await;
}

/// A registry whose jobs need a context value it lacks refuses to start.
pub async fn missing_context_is_refused_at_start<D: Driver>(db: &Db<D>) {
    let registry = JobRegistry::new(&[greet]);
    let error = registry.runner(db.src()).run().await.unwrap_err();
    assert!(
        matches!(error, mq::Error::MissingContext { .. }),
        "{error:?}"
    );
}

/// Sets a flag when dropped: shows that a job's future was dropped.
struct DroppedFlag(Log<&'static str>);

impl Drop for DroppedFlag {
    fn drop(&mut self) {
        self.0.push("dropped");
    }
}

/// Never completes on its own: waits far past its timeout.
#[job(channel_name = "timeouts", retries = 0, timeout_secs = 0.2)]
async fn hangs(_job: CurrentJob, log: Log<&'static str>) -> JobResult {
    let _flag = DroppedFlag(log.clone());
    log.push("started");
    futures::future::pending::<()>().await;
    Ok(())
}

/// A `#[job]` function still running at its timeout has its future
/// dropped, the error handler hears of it, and the attempt fails with the
/// timeout in its history.
pub async fn timed_out_jobs_are_dropped<D: Driver>(db: &Db<D>) {
    let log: Log<&'static str> = Log::default();
    let mut registry = JobRegistry::new(&[hangs]);
    registry.set_context(log.clone());
    let (_runner, errors) = run_logging_errors(db, registry).await;
    let id = hangs.builder().spawn(db.ex()).await.unwrap();
    db.wait_state(id, JobState::Failed).await;
    assert_eq!(log.wait_len(2).await, vec!["started", "dropped"]);
    let errors = errors.wait_len(1).await;
    assert_eq!(
        errors,
        vec![("hangs".to_owned(), "job timed out after 200ms".to_owned())]
    );
    let failed = mq::admin::get(db.ex(), id).await.unwrap().unwrap();
    assert_eq!(
        failed.errors.last().map(|e| e.error.as_str()),
        Some("the job timed out after 200ms")
    );
}

/// Runs `registry`, polling every 50 ms, with an error handler that logs
/// each job error as (job name, error).
async fn run_logging_errors<D: Driver>(
    db: &Db<D>,
    mut registry: JobRegistry,
) -> (mq::JobRunnerHandle, Log<(String, String)>) {
    let errors: Log<(String, String)> = Log::default();
    let handled = errors.clone();
    registry
        .set_error_handler(move |name, error| handled.push((name.to_owned(), error.to_string())));
    let runner = registry
        .runner(db.src())
        .set_poll_interval(Duration::from_millis(50))
        .run()
        .await
        .unwrap();
    (runner, errors)
}
