//! Spawning: one job, many jobs, payloads, delays, transactions.

use std::time::{Duration, Instant};

use mq::JobBuilder;
use serde::{Deserialize, Serialize};

use crate::support::{Db, Driver, recording_runner};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Payload {
    name: String,
    count: u32,
}

/// One job and a batch of many are spawned and each runs once, with its
/// JSON and binary payloads intact.
pub async fn spawn_one_and_many_round_trip_payloads<D: Driver>(db: &Db<D>) {
    let (_runner, seen) = recording_runner(
        db,
        |_| {},
        |job| {
            let payload: Option<Payload> = job.json().unwrap();
            (
                job.name().to_owned(),
                payload,
                job.raw_bytes().map(<[u8]>::to_vec),
            )
        },
    )
    .await;

    let one = Payload {
        name: "ünïcødé \"quoted\" 🦀".into(),
        count: 1,
    };
    let bytes: Vec<u8> = (0..=255).collect();
    JobBuilder::new("one")
        .set_json(&one)
        .unwrap()
        .set_raw_bytes(&bytes)
        .spawn(db.ex())
        .await
        .unwrap();

    let builders: Vec<JobBuilder> = (0..200)
        .map(|i| {
            let mut b = JobBuilder::new("many");
            b.set_channel_args(format!("{i}"))
                .set_json(&Payload {
                    name: format!("n{i}"),
                    count: i,
                })
                .unwrap();
            b
        })
        .collect();
    let ids = mq::spawn_many(db.ex(), &builders).await.unwrap();
    assert_eq!(ids.len(), 200);
    assert_eq!(ids, builders.iter().map(JobBuilder::id).collect::<Vec<_>>());

    let all = seen.wait_len(201).await;
    assert_eq!(all.len(), 201);
    let single = all.iter().find(|(name, _, _)| name == "one").unwrap();
    assert_eq!(single.1.as_ref(), Some(&one));
    assert_eq!(single.2.as_deref(), Some(&bytes[..]));
    let mut counts: Vec<u32> = all
        .iter()
        .filter(|(name, _, _)| name == "many")
        .map(|(_, p, _)| p.as_ref().unwrap().count)
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, (0..200).collect::<Vec<_>>());
    for id in ids {
        db.wait_gone(id).await;
    }
}

/// A delayed job runs no earlier than its delay.
pub async fn delayed_job_runs_no_earlier_than_its_time<D: Driver>(db: &Db<D>) {
    let (_runner, started) = recording_runner(db, |_| {}, |_| Instant::now()).await;
    let delay = Duration::from_millis(1500);
    let before = Instant::now();
    JobBuilder::new("later")
        .set_delay(delay)
        .spawn(db.ex())
        .await
        .unwrap();
    let ran = started.wait_len(1).await[0];
    assert!(
        ran - before >= delay,
        "ran after {:?}, before its delay of {delay:?}",
        ran - before
    );
}

/// A job spawned in a transaction that rolls back never exists, never
/// runs; one that commits does.
pub async fn spawn_in_rolled_back_transaction_never_runs<D: Driver>(db: &Db<D>) {
    let (_runner, ran) = recording_runner(db, |_| {}, |job| job.name().to_owned()).await;
    let rolled_back =
        D::spawn_in_transaction(&db.pool, &JobBuilder::new("rolled-back"), false).await;
    assert!(!mq::exists(db.ex(), rolled_back).await.unwrap());
    let committed = D::spawn_in_transaction(&db.pool, &JobBuilder::new("committed"), true).await;
    db.wait_gone(committed).await;
    // The committed job was spawned after the rolled-back one and has run:
    // the runner has looked at everything the rolled-back one could be.
    assert_eq!(ran.items(), vec!["committed".to_owned()]);
}
