//! Channels: fairness and channel groups.

use std::time::Duration;

use mq::{JobBuilder, JobRunnerOptions, JobState};

use crate::support::{Db, Driver, Log, recording_runner, rt};

/// A channel with thousands of ready jobs does not starve one with few.
pub async fn busy_channel_does_not_starve_a_quiet_one<D: Driver>(db: &Db<D>) {
    let done: Log<String> = Log::default();
    let log = done.clone();
    let big: Vec<JobBuilder> = (0..3000)
        .map(|_| {
            let mut b = JobBuilder::new("j");
            b.set_channel_name("a-busy");
            b
        })
        .collect();
    mq::spawn_many(db.ex(), &big).await.unwrap();
    let small: Vec<JobBuilder> = (0..5)
        .map(|_| {
            let mut b = JobBuilder::new("j");
            b.set_channel_name("b-quiet");
            b
        })
        .collect();
    mq::spawn_many(db.ex(), &small).await.unwrap();
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let log = log.clone();
        rt::spawn(async move {
            rt::sleep(Duration::from_millis(2)).await;
            log.push(job.channel_name().to_owned());
            job.complete().await.unwrap();
        });
    })
    .set_concurrency(2, 4)
    .run()
    .await
    .unwrap();
    crate::support::wait_for("the quiet channel's jobs", || async {
        done.items().iter().filter(|c| *c == "b-quiet").count() == 5
    })
    .await;
    let busy_done = done.items().iter().filter(|c| *c == "a-busy").count();
    assert!(
        busy_done < 500,
        "the quiet channel waited for {busy_done} jobs of the busy one"
    );
}

/// A job of higher priority spawned behind a backlog of its channel runs
/// next, on a runner already busy with the backlog (whose targeted claims
/// then start from the new job's place): it does not wait its turn.
pub async fn urgent_job_overtakes_a_backlog<D: Driver>(db: &Db<D>) {
    let done: Log<String> = Log::default();
    let log = done.clone();
    let backlog: Vec<JobBuilder> = (0..3000)
        .map(|_| {
            let mut b = JobBuilder::new("backlog");
            b.set_channel_name("work");
            b
        })
        .collect();
    mq::spawn_many(db.ex(), &backlog).await.unwrap();
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let log = log.clone();
        rt::spawn(async move {
            rt::sleep(Duration::from_millis(2)).await;
            log.push(job.name().to_owned());
            job.complete().await.unwrap();
        });
    })
    .set_concurrency(2, 4)
    .run()
    .await
    .unwrap();
    crate::support::wait_for("the backlog under way", || async {
        done.items().len() >= 50
    })
    .await;
    let before = done.items().len();
    JobBuilder::new("urgent")
        .set_channel_name("work")
        .set_priority(10)
        .spawn(db.ex())
        .await
        .unwrap();
    crate::support::wait_for("the urgent job", || async {
        done.items().iter().any(|name| name == "urgent")
    })
    .await;
    let items = done.items();
    let at = items.iter().position(|name| name == "urgent").unwrap();
    assert!(
        at - before < 100,
        "the urgent job waited for {} jobs of the backlog",
        at - before
    );
    assert!(
        items.len() < 3000,
        "the backlog was through before the urgent job ran"
    );
}

/// A runner subscribed to channel names takes jobs of those names (with any
/// arguments) and nothing else.
pub async fn runner_takes_only_its_channel_names<D: Driver>(db: &Db<D>) {
    let (_runner, done) = recording_runner(
        db,
        |options| {
            options.set_channel_names(&["mine", "also-mine"]);
        },
        |job| format!("{}/{}", job.channel_name(), job.channel_args()),
    )
    .await;
    let other = JobBuilder::new("j")
        .set_channel_name("other")
        .spawn(db.ex())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (name, args) in [("mine", "1"), ("mine", "2"), ("also-mine", "")] {
        ids.push(
            JobBuilder::new("j")
                .set_channel_name(name)
                .set_channel_args(args)
                .spawn(db.ex())
                .await
                .unwrap(),
        );
    }
    for id in ids {
        db.wait_gone(id).await;
    }
    let mut seen = done.items();
    seen.sort();
    assert_eq!(seen, vec!["also-mine/", "mine/1", "mine/2"]);
    assert_eq!(db.state(other).await, Some(JobState::Ready));
}

/// A paused channel's jobs wait in every runner while the others run;
/// resuming wakes the runners, which poll only hourly, and they run them
/// all. Resuming twice is a typed error.
pub async fn paused_channel_waits_until_resumed<D: Driver>(db: &Db<D>) {
    let configure = |options: &mut mq::JobRunnerOptions| {
        options.set_poll_interval(Duration::from_secs(3600));
    };
    let (_first, first) = recording_runner(db, configure, |job| job.id()).await;
    let (_second, second) = recording_runner(db, configure, |job| job.id()).await;
    let ran = || {
        let mut ids = first.items();
        ids.extend(second.items());
        ids
    };

    assert!(mq::admin::pause(db.ex(), "held").await.unwrap());
    assert!(!mq::admin::pause(db.ex(), "held").await.unwrap());
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(
            JobBuilder::new("held")
                .set_channel_name("held")
                .spawn(db.ex())
                .await
                .unwrap(),
        );
    }
    let free = JobBuilder::new("free")
        .set_channel_name("free")
        .spawn(db.ex())
        .await
        .unwrap();
    // Spawned after the held jobs, so the claims that ran it had been told
    // of them too.
    db.wait_gone(free).await;
    for id in &held {
        assert_eq!(db.state(*id).await, Some(JobState::Ready));
    }
    assert_eq!(ran(), vec![free]);
    let stats = mq::admin::stats(db.ex()).await.unwrap();
    assert!(stats.is_paused("held"));
    assert!(!stats.is_paused("free"));

    mq::admin::resume(db.ex(), "held").await.unwrap();
    for id in &held {
        db.wait_gone(*id).await;
    }
    let mut all = ran();
    all.sort();
    let mut expected = held.clone();
    expected.push(free);
    expected.sort();
    assert_eq!(all, expected, "each job ran once");
    assert!(matches!(
        mq::admin::resume(db.ex(), "held").await,
        Err(mq::Error::NotPaused { channel_name }) if channel_name == "held"
    ));
    assert!(matches!(
        mq::admin::pause(db.ex(), "nul\0").await,
        Err(mq::Error::InvalidInput {
            field: "channel_name",
            ..
        })
    ));
    assert!(mq::admin::stats(db.ex()).await.unwrap().paused.is_empty());
}
