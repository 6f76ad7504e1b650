//! Cancelling jobs with `mq::cancel`, from outside the runner.

use std::time::{Duration, Instant};

use mq::{CancelOutcome, JobBuilder, JobRunnerOptions, JobState, Uuid};

use crate::support::{Db, Driver, Log, rt};

/// What a job of the runner below saw: its id, how long after it started
/// its `cancelled()` completed, and what completing it then gave.
type Seen = (Uuid, Duration, bool, String);

/// A running job hears of its cancel within a second, from another
/// connection than its runner's; completing it afterwards changes
/// nothing. A job that had not started never runs; a cancelled ordered
/// head lets the next job of its channel run; a job that does not exist is
/// a typed error.
pub async fn cancelled_jobs_stop_and_stay_cancelled<D: Driver>(db: &Db<D>) {
    let seen: Log<Seen> = Log::default();
    let started: Log<Uuid> = Log::default();
    let (seen_log, started_log) = (seen.clone(), started.clone());
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let (seen, started) = (seen_log.clone(), started_log.clone());
        rt::spawn(async move {
            if job.name() == "quick" {
                started.push(job.id());
                job.complete().await.unwrap();
                return;
            }
            let at = Instant::now();
            started.push(job.id());
            job.cancelled().await;
            let waited = at.elapsed();
            let cancelled = job.is_cancelled();
            let completed = match job.complete().await {
                Ok(()) => "completed".to_owned(),
                Err(error) => format!("{error:?}"),
            };
            seen.push((job.id(), waited, cancelled, completed));
        });
    })
    // Long leases: the cancel must arrive by notification, not keep-alive.
    .set_poll_interval(Duration::from_secs(3600))
    .run()
    .await
    .unwrap();

    let long = JobBuilder::new("long").spawn(db.ex()).await.unwrap();
    assert_eq!(started.wait_len(1).await, vec![long]);
    let asked = Instant::now();
    assert_eq!(
        mq::cancel(db.ex(), long).await.unwrap(),
        CancelOutcome::CancelledRunning
    );
    let (id, _, cancelled, completed) = seen.wait_len(1).await[0].clone();
    let heard = asked.elapsed();
    assert_eq!(id, long);
    assert!(cancelled);
    assert!(heard < Duration::from_secs(1), "heard after {heard:?}");
    assert!(completed.starts_with("LeaseLost"), "{completed}");
    assert_eq!(db.state(long).await, Some(JobState::Cancelled));
    assert_eq!(
        mq::cancel(db.ex(), long).await.unwrap(),
        CancelOutcome::Finished(JobState::Cancelled)
    );

    let later = JobBuilder::new("quick")
        .set_delay(Duration::from_secs(3600))
        .spawn(db.ex())
        .await
        .unwrap();
    assert_eq!(
        mq::cancel(db.ex(), later).await.unwrap(),
        CancelOutcome::Cancelled
    );

    let head = JobBuilder::new("long")
        .set_channel_name("line")
        .set_ordered(true)
        .spawn(db.ex())
        .await
        .unwrap();
    let next = JobBuilder::new("quick")
        .set_channel_name("line")
        .set_ordered(true)
        .spawn(db.ex())
        .await
        .unwrap();
    assert_eq!(started.wait_len(2).await[1], head);
    assert_eq!(db.state(next).await, Some(JobState::Blocked));
    mq::cancel(db.ex(), head).await.unwrap();
    db.wait_gone(next).await;
    assert_eq!(started.items(), vec![long, head, next]);
    assert_eq!(db.state(later).await, Some(JobState::Cancelled));

    let unknown = Uuid::now_v7();
    assert!(matches!(
        mq::cancel(db.ex(), unknown).await,
        Err(mq::Error::NotFound { ids }) if ids == vec![unknown]
    ));
    let stats = mq::admin::stats(db.ex()).await.unwrap();
    assert_eq!(stats.total(JobState::Cancelled), 3);
    assert_eq!(
        mq::admin::prune(db.ex(), Duration::ZERO, &[JobState::Cancelled])
            .await
            .unwrap(),
        3
    );
}
