//! Ordered channels and two-phase commit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mq::{JobBuilder, JobRunnerOptions, JobState};

use crate::support::{Db, Driver, Log, recording_runner, rt, wait_for};

/// Ordered jobs of one channel run one at a time in spawn order; channels
/// with other arguments run alongside.
pub async fn ordered_jobs_run_one_at_a_time_in_order<D: Driver>(db: &Db<D>) {
    // (args, index, started) events, and the number running per args.
    let events: Log<(String, i32, bool)> = Log::default();
    let running: Arc<Mutex<std::collections::HashMap<String, i32>>> = Arc::default();
    let overlap_across_args = Arc::new(Mutex::new(false));
    let (log, running2, overlap) = (events.clone(), running.clone(), overlap_across_args.clone());
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let (log, running, overlap) = (log.clone(), running2.clone(), overlap.clone());
        rt::spawn(async move {
            let args = job.channel_args().to_owned();
            let index: i32 = job.json().unwrap().unwrap();
            {
                let mut running = running.lock().unwrap();
                let mine = running.entry(args.clone()).or_default();
                *mine += 1;
                assert_eq!(*mine, 1, "two ordered jobs of channel {args} ran at once");
                if running.values().filter(|n| **n > 0).count() > 1 {
                    *overlap.lock().unwrap() = true;
                }
            }
            log.push((args.clone(), index, true));
            rt::sleep(Duration::from_millis(20)).await;
            *running.lock().unwrap().get_mut(&args).unwrap() -= 1;
            log.push((args, index, false));
            job.complete().await.unwrap();
        });
    })
    .set_concurrency(8, 16)
    .run()
    .await
    .unwrap();
    let mut builders = Vec::new();
    for index in 0..15 {
        for args in ["a", "b", "c"] {
            let mut b = JobBuilder::new("ordered");
            b.set_channel_name("ch")
                .set_channel_args(args)
                .set_ordered(true)
                .set_json(&index)
                .unwrap();
            builders.push(b);
        }
    }
    mq::spawn_many(db.ex(), &builders).await.unwrap();
    let all = events.wait_len(90).await;
    for args in ["a", "b", "c"] {
        let starts: Vec<i32> = all
            .iter()
            .filter(|(a, _, s)| a == args && *s)
            .map(|(_, i, _)| *i)
            .collect();
        assert_eq!(
            starts,
            (0..15).collect::<Vec<_>>(),
            "channel {args} ran out of order"
        );
    }
    assert!(
        *overlap_across_args.lock().unwrap(),
        "channels with different args never ran side by side"
    );
}

/// A two-phase job is invisible until committed, is discarded if its
/// interval lapses, and holds its place on an ordered channel meanwhile.
pub async fn two_phase_commit_hides_discards_and_reserves<D: Driver>(db: &Db<D>) {
    let (_runner, ran) = recording_runner(
        db,
        |options| {
            options.set_poll_interval(Duration::from_millis(50));
        },
        |job| job.name().to_owned(),
    )
    .await;

    // Reserved position: the uncommitted first job holds back the second.
    let reserved = JobBuilder::new("first")
        .set_channel_name("o")
        .set_ordered(true)
        .set_commit_interval(Some(Duration::from_secs(60)))
        .spawn(db.ex())
        .await
        .unwrap();
    let second = JobBuilder::new("second")
        .set_channel_name("o")
        .set_ordered(true)
        .spawn(db.ex())
        .await
        .unwrap();
    // A sentinel on another channel proves the runner is working meanwhile.
    let sentinel = JobBuilder::new("sentinel").spawn(db.ex()).await.unwrap();
    db.wait_gone(sentinel).await;
    assert_eq!(db.state(reserved).await, Some(JobState::Uncommitted));
    assert_eq!(db.state(second).await, Some(JobState::Blocked));
    mq::commit(db.ex(), &[reserved]).await.unwrap();
    db.wait_gone(second).await;
    assert_eq!(
        ran.items(),
        vec![
            "sentinel".to_owned(),
            "first".to_owned(),
            "second".to_owned()
        ]
    );

    // A lapsed interval discards the job, which never runs.
    let lapsing = JobBuilder::new("lapsing")
        .set_commit_interval(Some(Duration::from_millis(300)))
        .spawn(db.ex())
        .await
        .unwrap();
    db.wait_gone(lapsing).await;
    let error = mq::commit(db.ex(), &[lapsing]).await.unwrap_err();
    assert!(
        matches!(&error, mq::Error::NotFound { ids } if ids == &[lapsing]),
        "{error:?}"
    );
    wait_for("nothing else to run", || async { ran.len() == 3 }).await;
    assert!(!ran.items().contains(&"lapsing".to_owned()));
}
