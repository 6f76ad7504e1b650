//! Completing inside the application's own transaction.

use std::time::Duration;

use mq::{JobBuilder, JobRunnerOptions};

use crate::support::{Db, Driver, Log, rt};

/// Completion with a transaction commits with the job's other writes, and
/// a rolled-back completion leaves the job to be retried.
pub async fn completion_is_atomic_with_the_transaction<D: Driver>(db: &Db<D>) {
    db.exec("CREATE TABLE effects (attempt int NOT NULL)").await;
    let attempts: Log<i32> = Log::default();
    let log = attempts.clone();
    let pool = db.pool.clone();
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let log = log.clone();
        let pool = pool.clone();
        rt::spawn(async move {
            log.push(job.attempt());
            // The first attempt's transaction rolls back after completing:
            // neither its write nor its completion may stick.
            let commit = job.attempt() > 1;
            let sql = if commit {
                "INSERT INTO effects VALUES (2)"
            } else {
                "INSERT INTO effects VALUES (1)"
            };
            D::complete_in_transaction(&pool, &mut job, sql, commit)
                .await
                .unwrap();
        });
    })
    .set_lease(Duration::from_secs(1))
    .set_poll_interval(Duration::from_millis(50))
    .run()
    .await
    .unwrap();
    let id = JobBuilder::new("effect")
        .set_retry_backoff(Duration::from_millis(10))
        .spawn(db.ex())
        .await
        .unwrap();
    db.wait_gone(id).await;
    assert_eq!(attempts.items(), vec![1, 2]);
    assert_eq!(
        db.count("SELECT count(*) FROM effects WHERE attempt = 1")
            .await,
        0
    );
    assert_eq!(
        db.count("SELECT count(*) FROM effects WHERE attempt = 2")
            .await,
        1
    );
}
