//! Retries: backoff, attempt counting, and every way an attempt can fail.

use std::time::{Duration, Instant};

use mq::{JobBuilder, JobRunnerOptions, JobState};

use crate::support::{Db, Driver, Log, rt, wait_for};

/// A job that always fails is retried with doubling backoff, `retries`
/// times, then kept as failed with its error.
pub async fn retries_back_off_and_stop<D: Driver>(db: &Db<D>) {
    let attempts: Log<(i32, Instant)> = Log::default();
    let log = attempts.clone();
    let _runner = JobRunnerOptions::new(db.src(), move |job| {
        log.push((job.attempt(), Instant::now()));
        drop(job); // dropped without completing: a failed attempt
    })
    .set_poll_interval(Duration::from_millis(50))
    .run()
    .await
    .unwrap();
    let backoff = Duration::from_millis(300);
    let id = JobBuilder::new("flaky")
        .set_retries(2)
        .set_retry_backoff(backoff)
        .spawn(db.ex())
        .await
        .unwrap();
    db.wait_state(id, JobState::Failed).await;
    let seen = attempts.items();
    assert_eq!(
        seen.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    let first_gap = seen[1].1 - seen[0].1;
    let second_gap = seen[2].1 - seen[1].1;
    assert!(first_gap >= backoff, "first retry after {first_gap:?}");
    assert!(
        second_gap >= backoff * 2,
        "second retry after {second_gap:?}, not doubled"
    );
    // Failed for good: nothing more runs, and the job stays to be inspected.
    rt::sleep(backoff * 4).await;
    assert_eq!(attempts.len(), 3, "a failed job ran again");
    assert!(mq::exists(db.ex(), id).await.unwrap());
}

/// The wait between attempts stops doubling at its cap, and with jitter
/// is drawn between half of it and all of it: read exactly from what the
/// failure stored (the job is due `wait` after its error was recorded,
/// both on the database's clock).
pub async fn backoff_is_capped_and_jittered<D: Driver>(db: &Db<D>) {
    let _runner = JobRunnerOptions::new(db.src(), drop) // every attempt fails
        .set_poll_interval(Duration::from_millis(50))
        .run()
        .await
        .unwrap();
    let backoff = Duration::from_millis(400);
    let max = Duration::from_millis(600);
    let capped = JobBuilder::new("capped")
        .set_retries(2)
        .set_retry_backoff(backoff)
        .set_retry_backoff_max(max)
        .spawn(db.ex())
        .await
        .unwrap();
    let jittered = JobBuilder::new("jittered")
        .set_retries(2)
        .set_retry_backoff(backoff)
        .set_retry_backoff_max(max)
        .set_retry_jitter(true)
        .spawn(db.ex())
        .await
        .unwrap();
    let policy = |jitter| mq::RetryPolicy {
        backoff,
        backoff_max: Some(max),
        jitter,
    };
    // Both at once: each job's waits are seen while it waits.
    let check = |id: mq::Uuid, jitter: bool| async move {
        for attempt in 1..=2 {
            let job = wait_scheduled_after(db, id, attempt).await;
            let failed_at = job.errors.last().unwrap().at;
            let wait = Duration::try_from(job.run_at - failed_at).unwrap();
            let expected = policy(jitter).delay(id, attempt);
            assert_eq!(wait, expected, "attempt {attempt} of {}", job.name);
            let full = policy(false).delay(id, attempt);
            assert!(expected <= full && expected >= full / 2);
        }
        db.wait_state(id, JobState::Failed).await;
        let job = mq::admin::get(db.ex(), id).await.unwrap().unwrap();
        assert_eq!(job.retry_backoff_max, Some(max));
        assert_eq!(job.retry_jitter, jitter);
    };
    futures::future::join(check(capped, false), check(jittered, true)).await;
    assert_eq!(policy(false).delay(capped, 2), max, "capped, not doubled");
}

/// The job `id` once attempt `attempt` has failed and it waits for the
/// next.
async fn wait_scheduled_after<D: Driver>(
    db: &Db<D>,
    id: mq::Uuid,
    attempt: i32,
) -> mq::admin::JobInfo {
    let seen = std::sync::Mutex::new(None);
    wait_for(&format!("attempt {attempt} of {id} to fail"), || async {
        let job = mq::admin::get(db.ex(), id).await.unwrap().unwrap();
        let done = job.state == JobState::Scheduled && job.errors.len() == attempt as usize;
        if done {
            *seen.lock().unwrap() = Some(job);
        }
        done
    })
    .await;
    seen.into_inner().unwrap().unwrap()
}

/// Panicking and being dropped each count as a failed attempt; the next
/// attempt completes. (Returned errors go through a registry: see
/// `registry::job_errors_reach_the_error_handler`.)
pub async fn panicking_and_dropped_jobs_are_retried<D: Driver>(db: &Db<D>) {
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        rt::spawn(async move {
            if job.attempt() == 1 {
                if job.name() == "panics" {
                    panic!("first attempt panics");
                }
                return; // dropped without completing
            }
            job.complete().await.unwrap();
        });
    })
    .set_poll_interval(Duration::from_millis(50))
    .run()
    .await
    .unwrap();
    let mut ids = Vec::new();
    for name in ["panics", "dropped"] {
        ids.push(
            JobBuilder::new(name)
                .set_retry_backoff(Duration::from_millis(10))
                .spawn(db.ex())
                .await
                .unwrap(),
        );
    }
    for id in ids {
        db.wait_gone(id).await;
    }
}

/// A checkpoint's payload is what the next attempt sees, and its extra
/// retries allow that attempt.
pub async fn checkpoint_carries_state_to_the_next_attempt<D: Driver>(db: &Db<D>) {
    let seen: Log<(i32, i64)> = Log::default();
    let log = seen.clone();
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let log = log.clone();
        rt::spawn(async move {
            let step: i64 = job.json().unwrap().unwrap();
            log.push((job.attempt(), step));
            if job.attempt() == 1 {
                job.checkpoint(
                    mq::Checkpoint::new()
                        .set_json(&(step + 1))
                        .unwrap()
                        .set_extra_retries(1),
                )
                .await
                .unwrap();
                return; // fail this attempt
            }
            job.complete().await.unwrap();
        });
    })
    .run()
    .await
    .unwrap();
    let id = JobBuilder::new("long")
        .set_retries(0)
        .set_retry_backoff(Duration::from_millis(10))
        .set_json(&1)
        .unwrap()
        .spawn(db.ex())
        .await
        .unwrap();
    db.wait_gone(id).await;
    assert_eq!(seen.items(), vec![(1, 1), (2, 2)]);
}

/// The runner keeps running after jobs fail.
pub async fn runner_survives_failures<D: Driver>(db: &Db<D>) {
    let done: Log<i32> = Log::default();
    let log = done.clone();
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let log = log.clone();
        rt::spawn(async move {
            let n: i32 = job.json().unwrap().unwrap();
            if n % 2 == 0 {
                panic!("even jobs panic");
            }
            job.complete().await.unwrap();
            log.push(n);
        });
    })
    .run()
    .await
    .unwrap();
    for n in 0..20 {
        JobBuilder::new("j")
            .set_retries(0)
            .set_json(&n)
            .unwrap()
            .spawn(db.ex())
            .await
            .unwrap();
    }
    wait_for("the odd jobs", || async { done.len() == 10 }).await;
    wait_for("the even jobs to fail", || async {
        db.count("SELECT count(*) FROM mq_jobs WHERE state = 'failed'")
            .await
            == 10
    })
    .await;
}

/// An attempt still running at its timeout is failed at once with a
/// timeout error in its history and retried; the job is told to stop, and
/// what it records afterwards changes nothing.
pub async fn timed_out_attempts_fail_and_retry<D: Driver>(db: &Db<D>) {
    let told: Log<(i32, String)> = Log::default();
    let log = told.clone();
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let log = log.clone();
        rt::spawn(async move {
            if job.attempt() == 1 {
                // Hangs until told, then tries to complete all the same.
                job.cancelled().await;
                let completed = job.complete().await;
                log.push((1, format!("{completed:?}")));
            } else {
                job.complete().await.unwrap();
                log.push((job.attempt(), "completed".to_owned()));
            }
        });
    })
    .set_poll_interval(Duration::from_millis(50))
    .run()
    .await
    .unwrap();
    let started = Instant::now();
    let id = JobBuilder::new("slow")
        .set_timeout(Duration::from_millis(300))
        .set_retries(1)
        .set_retry_backoff(Duration::from_millis(10))
        .spawn(db.ex())
        .await
        .unwrap();
    let seen = told.wait_len(2).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(seen[0].1.starts_with("Err(LeaseLost"), "{seen:?}");
    assert_eq!(seen[1], (2, "completed".to_owned()));
    db.wait_gone(id).await;

    // The history of a job that times out for good names the timeout.
    let stuck = JobBuilder::new("stuck")
        .set_timeout(Duration::from_millis(200))
        .set_retries(0)
        .spawn(db.ex())
        .await
        .unwrap();
    db.wait_state(stuck, JobState::Failed).await;
    let job = mq::admin::get(db.ex(), stuck).await.unwrap().unwrap();
    assert_eq!(job.timeout, Some(Duration::from_millis(200)));
    assert_eq!(
        job.errors.last().map(|e| e.error.as_str()),
        Some("the job timed out after 200ms")
    );
}

/// A snoozed job runs again after its delay, its attempt not counted, with
/// the payload it checkpointed; a snooze in a transaction takes effect as
/// the transaction commits; nothing more can be recorded for a snoozed
/// attempt, and a delay past 1000 years is refused.
pub async fn snoozed_jobs_run_again_without_counting_the_attempt<D: Driver>(db: &Db<D>) {
    let runs: Log<(String, i32, String)> = Log::default();
    let log = runs.clone();
    let pool = db.pool.clone();
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let (log, pool) = (log.clone(), pool.clone());
        rt::spawn(async move {
            let step: String = job.json().unwrap().unwrap();
            let name = job.name().to_owned();
            log.push((name.clone(), job.attempt(), step.clone()));
            match (name.as_str(), step.as_str()) {
                ("plain", "first") => {
                    let too_long = Duration::from_secs(2000 * 366 * 24 * 3600);
                    assert!(matches!(
                        job.snooze(too_long).await,
                        Err(mq::Error::InvalidInput { field: "delay", .. })
                    ));
                    let mut checkpoint = mq::Checkpoint::new();
                    checkpoint.set_json(&"second").unwrap();
                    job.checkpoint(&checkpoint).await.unwrap();
                    job.snooze(Duration::from_millis(200)).await.unwrap();
                    assert!(matches!(
                        job.complete().await,
                        Err(mq::Error::AttemptEnded { .. })
                    ));
                }
                // Its payload stays "first": snoozed on its first run only.
                ("in transaction", _)
                    if log.items().iter().filter(|r| r.0 == name).count() == 1 =>
                {
                    D::snooze_in_transaction(&pool, &mut job, Duration::ZERO)
                        .await
                        .unwrap();
                }
                _ => job.complete().await.unwrap(),
            }
        });
    })
    .set_poll_interval(Duration::from_millis(50))
    .run()
    .await
    .unwrap();
    let started = Instant::now();
    let plain = JobBuilder::new("plain")
        .set_json(&"first")
        .unwrap()
        .set_retries(0)
        .spawn(db.ex())
        .await
        .unwrap();
    db.wait_gone(plain).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    let in_tx = JobBuilder::new("in transaction")
        .set_json(&"first")
        .unwrap()
        .set_retries(0)
        .spawn(db.ex())
        .await
        .unwrap();
    db.wait_gone(in_tx).await;
    let mut ran = runs.items();
    ran.sort();
    assert_eq!(
        ran,
        vec![
            ("in transaction".to_owned(), 1, "first".to_owned()),
            ("in transaction".to_owned(), 1, "first".to_owned()),
            ("plain".to_owned(), 1, "first".to_owned()),
            ("plain".to_owned(), 1, "second".to_owned()),
        ]
    );
}
