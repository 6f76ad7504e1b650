//! Through PgBouncer in transaction pooling mode with nothing to LISTEN
//! on: runners poll, and spawns and admin calls go through the backend
//! itself. (Every other end-to-end case runs through PgBouncer too, with a
//! direct connection to LISTEN on: see `drivers`.)

use std::time::{Duration, Instant};

use mq::{JobBuilder, JobRunnerOptions, SqlxBackend, TokioPostgresBackend, admin};
use mq_test_db::TestDb;

use crate::support::{Log, rt};

/// Spawns jobs through `backend` and runs them with a runner on it that
/// polls every 100 ms, then checks the queue through it: every job ran,
/// each about a poll interval after it was spawned at most.
async fn runners_poll<B>(backend: &B)
where
    for<'a> &'a B: mq::Executor<mq_core::executor::Direct> + mq::IntoBackend<mq::DefaultRuntime>,
{
    mq::migrate(backend).await.unwrap();
    let started: Log<Instant> = Log::default();
    let log = started.clone();
    let mut runner = JobRunnerOptions::new(backend, move |mut job| {
        log.push(Instant::now());
        rt::spawn(async move { job.complete().await.unwrap() });
    })
    .set_poll_interval(Duration::from_millis(100))
    .run()
    .await
    .unwrap();
    for n in 1..=10 {
        let spawned = Instant::now();
        JobBuilder::new("polled").spawn(backend).await.unwrap();
        let at = started.wait_len(n).await[n - 1];
        assert!(
            at - spawned < Duration::from_secs(2),
            "started {:?} after it was spawned, with a poll interval of 100 ms",
            at - spawned
        );
    }
    runner.stop().await;
    // The last job's completion may still be on its way.
    assert!(runner.wait_jobs_finish(Duration::from_secs(10)).await);
    let stats = admin::stats(backend).await.unwrap();
    assert!(stats.counts.is_empty(), "jobs left: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_runners_poll_without_listen() {
    let db = TestDb::create();
    let pool = sqlx::PgPool::connect(&db.pgbouncer_url()).await.unwrap();
    runners_poll(&SqlxBackend::new(pool).transaction_pooled()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_runners_poll_without_listen() {
    let db = TestDb::create();
    let url = db.pgbouncer_url();
    let config: tokio_postgres::Config = url.parse().unwrap();
    let manager = deadpool_postgres::Manager::new(config.clone(), tokio_postgres::NoTls);
    let pool = deadpool_postgres::Pool::builder(manager).build().unwrap();
    let backend = TokioPostgresBackend::new(pool, config)
        .transaction_pooled()
        .without_listen();
    runners_poll(&backend).await;
}
