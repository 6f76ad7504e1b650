//! Runners: wake-ups, competition, shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mq::{JobBuilder, JobRunnerOptions, JobState, Uuid};

use crate::support::{Db, Driver, Log, rt, wait_for};

/// An idle runner wakes on a spawn's notification, long before its poll.
pub async fn idle_runner_wakes_on_spawn<D: Driver>(db: &Db<D>) {
    let started: Log<Instant> = Log::default();
    let log = started.clone();
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        log.push(Instant::now());
        rt::spawn(async move { job.complete().await.unwrap() });
    })
    .set_poll_interval(Duration::from_secs(3600))
    .run()
    .await
    .unwrap();
    // Let the runner finish its start-up claim and go idle.
    rt::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        // Counted before spawning: the job may start before `spawn` returns.
        let n = started.len() + 1;
        let before = Instant::now();
        JobBuilder::new("now").spawn(db.ex()).await.unwrap();
        let at = started.wait_len(n).await[n - 1];
        // Without the notification the runner would sleep for an hour.
        assert!(
            at - before < Duration::from_secs(2),
            "woke after {:?}",
            at - before
        );
    }
}

/// Spawns made at the same time share their notifications (one round trip
/// each instead of two): still, every one wakes an idle runner, including
/// the last of a burst, long before its poll.
pub async fn concurrent_spawns_all_wake_an_idle_runner<D: Driver>(db: &Db<D>) {
    let started: Log<Uuid> = Log::default();
    let log = started.clone();
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        log.push(job.id());
        rt::spawn(async move { job.complete().await.unwrap() });
    })
    .set_concurrency(64, 256)
    .set_poll_interval(Duration::from_secs(3600))
    .run()
    .await
    .unwrap();
    rt::sleep(Duration::from_millis(200)).await;
    let mut spawned = 0;
    for burst in [1, 2, 16, 64, 3] {
        let before = Instant::now();
        let spawns = (0..burst).map(|_| async { JobBuilder::new("burst").spawn(db.ex()).await });
        let ids = futures::future::try_join_all(spawns).await.unwrap();
        spawned += ids.len();
        let ran = started.wait_len(spawned).await;
        for id in &ids {
            assert!(ran.contains(id), "{id} did not run");
        }
        // Without the notifications the runner would sleep for an hour.
        assert!(
            before.elapsed() < Duration::from_secs(5),
            "a burst of {burst} ran after {:?}",
            before.elapsed()
        );
    }
}

/// Several runners competing over thousands of jobs run each exactly once.
pub async fn competing_runners_run_each_job_once<D: Driver>(db: &Db<D>) {
    let runs: Arc<Mutex<HashMap<Uuid, u32>>> = Arc::default();
    let mut runners = Vec::new();
    for _ in 0..4 {
        let runs = runs.clone();
        runners.push(
            JobRunnerOptions::new(db.src(), move |mut job| {
                *runs.lock().unwrap().entry(job.id()).or_default() += 1;
                rt::spawn(async move { job.complete().await.unwrap() });
            })
            .set_concurrency(4, 16)
            .run()
            .await
            .unwrap(),
        );
    }
    let builders: Vec<JobBuilder> = (0..3000)
        .map(|i| {
            let mut b = JobBuilder::new("j");
            b.set_channel_name(format!("c{}", i % 10));
            b
        })
        .collect();
    for chunk in builders.chunks(500) {
        mq::spawn_many(db.ex(), chunk).await.unwrap();
    }
    wait_for("all jobs to run", || async {
        runs.lock().unwrap().len() == 3000
    })
    .await;
    wait_for("the queue to drain", || async {
        db.count("SELECT count(*) FROM mq_jobs").await == 0
    })
    .await;
    let runs = runs.lock().unwrap();
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "jobs run more than once: {twice:?}");
}

/// stop() takes no new jobs; running jobs finish; wait_jobs_finish waits
/// for them.
pub async fn stop_lets_running_jobs_finish<D: Driver>(db: &Db<D>) {
    let finished: Log<Uuid> = Log::default();
    let log = finished.clone();
    let mut runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let log = log.clone();
        rt::spawn(async move {
            rt::sleep(Duration::from_millis(500)).await;
            job.complete().await.unwrap();
            log.push(job.id());
        });
    })
    .run()
    .await
    .unwrap();
    let running: Vec<Uuid> = {
        let builders: Vec<JobBuilder> = (0..3).map(|_| JobBuilder::new("slow")).collect();
        mq::spawn_many(db.ex(), &builders).await.unwrap()
    };
    wait_for("the jobs to start", || async {
        runner.num_running_jobs() == 3
    })
    .await;
    runner.stop().await;
    let late = JobBuilder::new("late").spawn(db.ex()).await.unwrap();
    assert!(runner.wait_jobs_finish(Duration::from_secs(20)).await);
    assert_eq!(runner.num_running_jobs(), 0);
    let mut done = finished.items();
    done.sort();
    let mut expected = running.clone();
    expected.sort();
    assert_eq!(done, expected);
    for id in running {
        assert_eq!(db.state(id).await, None);
    }
    rt::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        db.state(late).await,
        Some(JobState::Ready),
        "a stopped runner took a new job"
    );
}
