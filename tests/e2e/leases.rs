//! Leases: keep-alive while running, recovery when a runner dies.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mq::{JobBuilder, JobRunnerOptions};

use crate::support::{Db, Driver, Log, recording_runner, rt};

/// A job that runs for several leases, kept alive automatically, is never
/// handed to a second runner.
pub async fn kept_alive_job_is_never_handed_out_twice<D: Driver>(db: &Db<D>) {
    let starts = Arc::new(AtomicUsize::new(0));
    let lease = Duration::from_millis(600);
    let mut runners = Vec::new();
    for _ in 0..2 {
        let starts = starts.clone();
        runners.push(
            JobRunnerOptions::new(db.src(), move |mut job| {
                starts.fetch_add(1, Ordering::SeqCst);
                rt::spawn(async move {
                    rt::sleep(Duration::from_millis(2500)).await;
                    job.complete().await.unwrap();
                });
            })
            .set_lease(lease)
            .set_poll_interval(Duration::from_millis(50))
            .run()
            .await
            .unwrap(),
        );
    }
    let id = JobBuilder::new("long").spawn(db.ex()).await.unwrap();
    db.wait_gone(id).await;
    assert_eq!(starts.load(Ordering::SeqCst), 1, "the job ran twice");
}

/// When the runner holding a job dies (stops renewing its lease), the job
/// comes back after the lease, not before, to another runner.
pub async fn job_of_a_dead_runner_comes_back_after_its_lease<D: Driver>(db: &Db<D>) {
    let lease = Duration::from_millis(1500);
    let claimed_at: Log<Instant> = Log::default();
    let log = claimed_at.clone();
    // A runner that "dies" with the job: it leaks the job (no completion, no
    // failure recorded) and stops renewing leases.
    let mut dying = JobRunnerOptions::new(db.src(), move |job| {
        log.push(Instant::now());
        std::mem::forget(job);
    })
    .set_lease(lease)
    .set_keep_alive(false)
    .run()
    .await
    .unwrap();
    // The lease starts at the claim, on the server's clock: after the spawn,
    // but before the runner hears of the job. So it lapses no earlier than
    // a lease after the spawn started (not after the first runner got it).
    let spawned = Instant::now();
    let id = JobBuilder::new("orphan").spawn(db.ex()).await.unwrap();
    claimed_at.wait_len(1).await;
    dying.stop().await;

    let (_survivor, retried) = recording_runner(
        db,
        |options| {
            options.set_poll_interval(Duration::from_millis(50));
        },
        |job| (Instant::now(), job.attempt()),
    )
    .await;
    let (again, attempt) = retried.wait_len(1).await[0];
    assert_eq!(attempt, 2);
    assert!(
        again - spawned >= lease,
        "taken over {:?} after the spawn, within its lease",
        again - spawned
    );
    db.wait_gone(id).await;
}
