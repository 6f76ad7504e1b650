//! `mq::testing::run_job` and `JobTester`: a job of a registry run to its
//! outcome on the in-memory backend, through `mq` alone.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mq::testing::{JobTester, RunOutcome, run_job};
use mq::{BoxError, CurrentJob, Error, JobBuilder, JobRegistry, JobState, job};

/// Counts the runs of the jobs that take it.
type Runs = Arc<AtomicU32>;

#[job(retries = 3)]
async fn completes(mut job: CurrentJob) -> Result<(), BoxError> {
    job.complete().await?;
    Ok(())
}

#[job(retries = 2)]
async fn always_fails(_job: CurrentJob, runs: Runs) -> Result<(), BoxError> {
    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
    Err(format!("failure {run}").into())
}

/// Fails until its third attempt.
#[job(retries = 5)]
async fn third_time_lucky(mut job: CurrentJob) -> Result<(), BoxError> {
    if job.attempt() < 3 {
        return Err(format!("attempt {} failed", job.attempt()).into());
    }
    job.complete().await?;
    Ok(())
}

#[job(retries = 0)]
async fn panics(_job: CurrentJob) -> Result<(), BoxError> {
    panic!("out of cheese")
}

#[job(retries = 0)]
async fn forgets_to_complete(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job]
async fn hangs(_job: CurrentJob) -> Result<(), BoxError> {
    futures::future::pending::<()>().await;
    Ok(())
}

/// Records its payload after completing, a moment later.
#[job]
async fn records_after_completing(mut job: CurrentJob, log: Log) -> Result<(), BoxError> {
    let entry: String = job.json()?.ok_or("no payload")?;
    job.complete().await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    log.lock().unwrap().push(entry);
    Ok(())
}

/// What `records_after_completing` writes to.
type Log = Arc<Mutex<Vec<String>>>;

/// Every job above, with fresh context values (tests that look at them set
/// their own).
fn registry() -> JobRegistry {
    let mut registry = JobRegistry::new(&[
        completes,
        always_fails,
        third_time_lucky,
        panics,
        forgets_to_complete,
        hangs,
        records_after_completing,
    ]);
    registry
        .set_context(Runs::default())
        .set_context(Log::default());
    registry
}

#[tokio::test]
async fn a_job_that_completes() {
    let outcome = run_job(&registry(), &completes.builder()).await.unwrap();
    assert_eq!(outcome, RunOutcome::Completed { attempts: 1 });
    assert!(outcome.is_completed());
    assert_eq!(outcome.attempts(), 1);
    assert_eq!(outcome.error(), None);
}

#[tokio::test]
async fn a_job_that_always_fails_runs_every_attempt_without_backoff() {
    let runs = Runs::default();
    let mut registry = registry();
    registry.set_context(runs.clone());
    let mut job = always_fails.builder();
    // Backoff would make the three attempts take a minute.
    job.set_retry_backoff(Duration::from_secs(20));
    let outcome = run_job(&registry, &job).await.unwrap();
    assert_eq!(
        outcome,
        RunOutcome::Failed {
            attempts: 3,
            error: "failure 3".into()
        }
    );
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_job_that_succeeds_on_a_retry() {
    let outcome = run_job(&registry(), &third_time_lucky.builder())
        .await
        .unwrap();
    assert_eq!(outcome, RunOutcome::Completed { attempts: 3 });
}

#[tokio::test]
async fn max_attempts_stops_early_and_says_the_job_would_retry() {
    let mut tester = JobTester::new(&registry());
    tester.set_max_attempts(2);
    let outcome = tester.run(&third_time_lucky.builder()).await.unwrap();
    assert_eq!(
        outcome,
        RunOutcome::Retrying {
            attempts: 2,
            error: "attempt 2 failed".into()
        }
    );
}

#[tokio::test]
async fn max_attempts_beyond_the_jobs_own_is_a_failure_for_good() {
    let runs = Runs::default();
    let mut registry = registry();
    registry.set_context(runs.clone());
    let mut tester = JobTester::new(&registry);
    tester.set_max_attempts(10);
    let outcome = tester.run(&always_fails.builder()).await.unwrap();
    assert_eq!(
        outcome,
        RunOutcome::Failed {
            attempts: 3,
            error: "failure 3".into()
        }
    );
    // Exactly the attempts reported ran: none was started after the last.
    assert_eq!(runs.load(Ordering::SeqCst), 3);

    tester.set_max_attempts(1);
    let outcome = tester.run(&always_fails.builder()).await.unwrap();
    assert_eq!(outcome.attempts(), 1);
    assert!(matches!(outcome, RunOutcome::Retrying { .. }), "{outcome}");
    assert_eq!(runs.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_panic_is_a_failure_with_its_message() {
    let outcome = run_job(&registry(), &panics.builder()).await.unwrap();
    assert_eq!(
        outcome,
        RunOutcome::Failed {
            attempts: 1,
            error: "job panicked: out of cheese".into()
        }
    );
}

#[tokio::test]
async fn returning_without_completing_is_a_failure() {
    let outcome = run_job(&registry(), &forgets_to_complete.builder())
        .await
        .unwrap();
    assert_eq!(
        outcome.error(),
        Some("the job returned without completing"),
        "{outcome}"
    );
}

#[tokio::test]
async fn a_job_that_hangs_is_unfinished_after_the_timeout() {
    let mut tester = JobTester::new(&registry());
    tester.set_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let outcome = tester.run(&hangs.builder()).await.unwrap();
    assert_eq!(
        outcome,
        RunOutcome::Unfinished {
            attempts: 1,
            state: JobState::Running
        }
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn delayed_and_two_phase_jobs_run_at_once() {
    let mut job = completes.builder();
    job.set_delay(Duration::from_secs(3600))
        .set_commit_interval(Some(Duration::from_secs(60)));
    let outcome = run_job(&registry(), &job).await.unwrap();
    assert_eq!(outcome, RunOutcome::Completed { attempts: 1 });
}

#[tokio::test]
async fn the_jobs_code_has_ended_when_the_run_returns() {
    let log = Log::default();
    let mut registry = registry();
    registry.set_context(log.clone());
    let mut job = records_after_completing.builder();
    job.set_json("done").unwrap();
    let outcome = run_job(&registry, &job).await.unwrap();
    assert!(outcome.is_completed());
    assert_eq!(*log.lock().unwrap(), ["done"]);
}

#[tokio::test]
async fn a_job_the_registry_does_not_know_is_an_error() {
    let error = run_job(&registry(), &JobBuilder::new("nobody"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::InvalidInput { field: "name", .. }),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_context_value_is_an_error() {
    // `always_fails` takes a `Runs`, which this registry lacks.
    let registry = JobRegistry::new(&[always_fails]);
    let error = run_job(&registry, &always_fails.builder())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::MissingContext { .. }), "{error}");
}

#[tokio::test]
async fn an_invalid_job_is_an_error() {
    let mut job = completes.builder();
    job.set_channel_name("nul\0");
    let error = run_job(&registry(), &job).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::InvalidInput {
                field: "channel_name",
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn runs_on_the_spawner_it_is_given() {
    let mut tester = JobTester::new(&registry());
    tester.set_spawner(Arc::new(mq::TokioSpawner::new()));
    let outcome = tester.run(&completes.builder()).await.unwrap();
    assert!(outcome.is_completed());
}

#[test]
fn outcomes_display_what_happened() {
    let failed = RunOutcome::Failed {
        attempts: 2,
        error: "boom".into(),
    };
    assert_eq!(
        failed.to_string(),
        "failed for good after 2 attempt(s): boom"
    );
    let unfinished = RunOutcome::Unfinished {
        attempts: 1,
        state: JobState::Running,
    };
    assert_eq!(unfinished.to_string(), "unfinished in attempt 1, running");
    assert_eq!(unfinished.error(), None);
}

/// With both runtime features, a test outside tokio runs its job on
/// async-std, as a runner would.
#[cfg(feature = "runtime-async-std")]
#[async_std::test]
async fn runs_on_async_std_outside_tokio() {
    let outcome = run_job(&registry(), &third_time_lucky.builder())
        .await
        .unwrap();
    assert_eq!(outcome, RunOutcome::Completed { attempts: 3 });
}
