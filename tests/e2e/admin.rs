//! Inspecting and repairing the queue with `mq::admin` while runners run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mq::admin::{self, JobQuery};
use mq::{JobBuilder, JobRunnerOptions, JobState};

use crate::support::{Db, Driver, Log, rt, wait_for};

/// A failed job is kept with its error history and counted; a failed
/// ordered job visibly holds its channel; retrying runs them again, in
/// order.
pub async fn failed_jobs_are_inspected_and_retried<D: Driver>(db: &Db<D>) {
    let healthy = Arc::new(AtomicBool::new(false));
    let ran: Log<String> = Log::default();
    let (log, ok) = (ran.clone(), healthy.clone());
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let (log, ok) = (log.clone(), ok.clone());
        rt::spawn(async move {
            // Until the test says otherwise, every job is dropped without
            // completing: a failed attempt.
            if ok.load(Ordering::SeqCst) {
                log.push(job.name().to_owned());
                job.complete().await.unwrap();
            }
        });
    })
    .set_poll_interval(Duration::from_millis(50))
    .run()
    .await
    .unwrap();

    let flaky = JobBuilder::new("flaky")
        .set_channel_name("work")
        .set_retries(1)
        .set_retry_backoff(Duration::from_millis(10))
        .spawn(db.ex())
        .await
        .unwrap();
    let head = JobBuilder::new("head")
        .set_channel_name("line")
        .set_ordered(true)
        .set_retries(0)
        .spawn(db.ex())
        .await
        .unwrap();
    let next = JobBuilder::new("next")
        .set_channel_name("line")
        .set_ordered(true)
        .spawn(db.ex())
        .await
        .unwrap();
    db.wait_state(flaky, JobState::Failed).await;
    db.wait_state(head, JobState::Failed).await;

    let job = admin::get(db.ex(), flaky).await.unwrap().unwrap();
    assert_eq!(job.attempt, 2);
    assert_eq!(job.retries, 1);
    let history: Vec<(i32, &str)> = job
        .errors
        .iter()
        .map(|e| (e.attempt, e.error.as_str()))
        .collect();
    assert_eq!(
        history,
        vec![
            (1, "the job was dropped without completing"),
            (2, "the job was dropped without completing")
        ]
    );
    let failed = admin::list(db.ex(), JobQuery::new().set_state(JobState::Failed))
        .await
        .unwrap();
    assert_eq!(
        failed.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![flaky, head]
    );
    assert_eq!(failed.next, None);

    // The failed head holds its channel: `next` waits, visibly blocked.
    assert_eq!(db.state(next).await, Some(JobState::Blocked));
    let stats = admin::stats(db.ex()).await.unwrap();
    assert_eq!(stats.total(JobState::Failed), 2);
    assert_eq!(stats.blocked_ordered_channels(), 1);
    assert_eq!(stats.total(JobState::Blocked), 1);
    assert_eq!(stats.total(JobState::Ready), 0);
    assert!(stats.oldest_ready_age().is_none());

    healthy.store(true, Ordering::SeqCst);
    assert_eq!(admin::retry(db.ex(), &[flaky]).await.unwrap(), vec![flaky]);
    db.wait_gone(flaky).await;
    assert_eq!(admin::retry_failed(db.ex(), Some("line")).await.unwrap(), 1);
    db.wait_gone(next).await;
    assert_eq!(ran.items(), vec!["flaky", "head", "next"]);
    assert_eq!(admin::stats(db.ex()).await.unwrap().counts, vec![]);
}

/// A runner that keeps completed jobs leaves them inspectable (whether
/// completed on their own or in a transaction) until they are pruned.
pub async fn kept_completed_jobs_are_inspected_and_pruned<D: Driver>(db: &Db<D>) {
    let pool = db.pool.clone();
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let pool = pool.clone();
        rt::spawn(async move {
            if job.name() == "in-transaction" {
                D::complete_in_transaction(&pool, &mut job, "SELECT 1", true)
                    .await
                    .unwrap();
            } else {
                job.complete().await.unwrap();
            }
        });
    })
    .set_keep_completed(true)
    .run()
    .await
    .unwrap();
    let plain = JobBuilder::new("plain")
        .set_json(&"kept")
        .unwrap()
        .spawn(db.ex())
        .await
        .unwrap();
    let in_transaction = JobBuilder::new("in-transaction")
        .spawn(db.ex())
        .await
        .unwrap();
    db.wait_state(plain, JobState::Completed).await;
    db.wait_state(in_transaction, JobState::Completed).await;

    assert!(!mq::exists(db.ex(), plain).await.unwrap());
    let job = admin::get(db.ex(), plain).await.unwrap().unwrap();
    assert_eq!(job.payload_json.as_deref(), Some("\"kept\""));
    assert_eq!(job.attempt, 1);
    assert!(
        job.run_at >= job.created_at,
        "run_at is the completion time"
    );
    let completed = admin::list(db.ex(), JobQuery::new().set_state(JobState::Completed))
        .await
        .unwrap();
    assert_eq!(completed.jobs.len(), 2);

    let week = Duration::from_secs(7 * 24 * 3600);
    assert_eq!(
        admin::prune(db.ex(), week, &[JobState::Completed])
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        admin::prune(db.ex(), Duration::ZERO, &[JobState::Completed])
            .await
            .unwrap(),
        2
    );
    assert_eq!(admin::get(db.ex(), plain).await.unwrap(), None);
    assert!(
        admin::prune(db.ex(), week, &[JobState::Ready])
            .await
            .is_err(),
        "only failed, completed and cancelled jobs can be pruned"
    );
}

/// Deleting a running job takes it from under its runner, whose completion
/// then fails with `LeaseLost`.
pub async fn deleting_a_running_job_fences_its_runner<D: Driver>(db: &Db<D>) {
    let started: Log<mq::Uuid> = Log::default();
    let outcomes: Log<bool> = Log::default();
    let go = Arc::new(AtomicBool::new(false));
    let (log, out, gate) = (started.clone(), outcomes.clone(), go.clone());
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let (log, out, gate) = (log.clone(), out.clone(), gate.clone());
        rt::spawn(async move {
            log.push(job.id());
            wait_for("the test to let the job finish", || async {
                gate.load(Ordering::SeqCst)
            })
            .await;
            let result = job.complete().await;
            out.push(result.is_err_and(|e| e.is_lease_lost()));
        });
    })
    .run()
    .await
    .unwrap();
    let id = JobBuilder::new("doomed").spawn(db.ex()).await.unwrap();
    started.wait_len(1).await;
    assert_eq!(db.state(id).await, Some(JobState::Running));
    assert_eq!(admin::delete(db.ex(), &[id]).await.unwrap(), vec![id]);
    go.store(true, Ordering::SeqCst);
    assert_eq!(outcomes.wait_len(1).await, vec![true]);
    assert_eq!(db.state(id).await, None);
    assert!(admin::delete(db.ex(), &[id]).await.unwrap().is_empty());
}
