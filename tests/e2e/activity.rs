//! What runners report for dashboards: themselves, and the attempts that
//! ended per minute and channel.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mq::admin::{self, JobQuery};
use mq::{JobBuilder, JobRunnerOptions};

use crate::support::{Db, Driver, rt, wait_for};

/// Completed, retried and failed attempts per channel, summed over the
/// minutes of the last hour.
async fn totals<D: Driver>(db: &Db<D>) -> BTreeMap<String, (u64, u64, u64)> {
    let mut totals = BTreeMap::new();
    for count in admin::throughput(db.ex(), Duration::from_secs(3600))
        .await
        .unwrap()
    {
        let total: &mut (u64, u64, u64) = totals.entry(count.channel_name).or_default();
        total.0 += count.completed;
        total.1 += count.retried;
        total.2 += count.failed;
    }
    totals
}

/// Two runners report themselves under their names, with the jobs they
/// run, and the attempts that ended, counted once each per channel; a
/// runner that stops leaves the list. The job list filters by name.
pub async fn runners_report_their_work<D: Driver>(db: &Db<D>) {
    let release = Arc::new(AtomicBool::new(false));
    let start = |name: &'static str| {
        let release = release.clone();
        let mut options = JobRunnerOptions::new(db.src(), move |mut job| {
            let release = release.clone();
            rt::spawn(async move {
                match job.name() {
                    // Dropped without completing: a failed attempt.
                    "flaky" => {}
                    "slow" => {
                        while !release.load(Ordering::SeqCst) {
                            rt::sleep(Duration::from_millis(5)).await;
                        }
                        job.complete().await.unwrap();
                    }
                    _ => job.complete().await.unwrap(),
                }
            });
        });
        options
            .set_name(name)
            .set_activity_interval(Some(Duration::from_millis(50)))
            .set_poll_interval(Duration::from_millis(50));
        async move { options.run().await.unwrap() }
    };
    let mut first = start("first").await;
    let _second = start("second").await;

    let mut jobs = Vec::new();
    for i in 0..15 {
        jobs.push(
            JobBuilder::new("quick")
                .set_channel_name(if i % 3 == 0 { "b" } else { "a" })
                .clone(),
        );
    }
    for _ in 0..5 {
        jobs.push(
            JobBuilder::new("flaky")
                .set_channel_name("a")
                .set_retries(1)
                .set_retry_backoff(Duration::from_millis(10))
                .clone(),
        );
    }
    mq::spawn_many(db.ex(), &jobs).await.unwrap();
    let slow = JobBuilder::new("slow")
        .set_channel_name("a")
        .spawn(db.ex())
        .await
        .unwrap();

    wait_for(
        "both runners to be listed, one running the slow job",
        || async {
            let runners = admin::runners(db.ex()).await.unwrap();
            let names: Vec<&str> = runners.iter().map(|r| r.name.as_str()).collect();
            names == ["first", "second"]
                && runners.iter().map(|r| r.running).sum::<u32>() == 1
                && runners
                    .iter()
                    .all(|r| r.max_concurrency == 128 && r.seen_at >= r.started_at)
        },
    )
    .await;
    let mut expected = BTreeMap::new();
    expected.insert("a".to_owned(), (10, 5, 5));
    expected.insert("b".to_owned(), (5, 0, 0));
    wait_for("every attempt to be counted", || async {
        totals(db).await == expected
    })
    .await;

    let named = admin::list(db.ex(), JobQuery::new().set_name("slow"))
        .await
        .unwrap();
    assert_eq!(
        named.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![slow]
    );
    let failed = admin::list(
        db.ex(),
        JobQuery::new().set_name("flaky").set_channel_name("a"),
    )
    .await
    .unwrap();
    assert_eq!(failed.jobs.len(), 5);

    release.store(true, Ordering::SeqCst);
    expected.insert("a".to_owned(), (11, 5, 5));
    wait_for("the slow job to be counted", || async {
        totals(db).await == expected
    })
    .await;
    first.stop().await;
    wait_for("the stopped runner to leave the list", || async {
        let runners = admin::runners(db.ex()).await.unwrap();
        runners.iter().map(|r| r.name.as_str()).collect::<Vec<_>>() == ["second"]
    })
    .await;
    assert_eq!(totals(db).await, expected, "nothing is counted twice");
}
