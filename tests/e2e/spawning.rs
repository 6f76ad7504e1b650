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

/// A job with a unique key is spawned once while its key is held, however
/// its spawns race: from concurrent spawners, in one batch with its
/// duplicates, and from a transaction that holds the key uncommitted (the
/// spawn waits for it, then gets its job). Once the job has run, the key
/// is free again.
pub async fn unique_jobs_are_spawned_once<D: Driver>(db: &Db<D>) {
    use futures::channel::oneshot;

    use crate::support::{TxPlan, rt};

    let job = |key: &str| {
        let mut b = JobBuilder::new("sync");
        b.set_channel_name("unique").set_unique_key(key);
        b
    };
    // Eight spawners, ten spawns each, at once.
    let mut ids = Vec::new();
    let mut spawners = Vec::new();
    for _ in 0..8 {
        let (done, ids_of) = oneshot::channel();
        let pool = db.pool.clone();
        rt::spawn(async move {
            let mut ids = Vec::new();
            for _ in 0..10 {
                ids.push(job("race").spawn(D::executor(&pool)).await.unwrap());
            }
            let _ = done.send(ids);
        });
        spawners.push(ids_of);
    }
    for spawner in spawners {
        ids.extend(spawner.await.unwrap());
    }
    let first = ids[0];
    assert!(ids.iter().all(|id| *id == first), "{ids:?}");
    assert_eq!(
        db.count("SELECT count(*) FROM mq_jobs WHERE unique_key = 'race'")
            .await,
        1
    );

    // A batch with duplicates of each other and of the job above.
    let batch = [job("race"), job("batch"), job("batch")];
    let spawned = mq::spawn_many_deduplicated(db.ex(), &batch).await.unwrap();
    assert_eq!(
        spawned,
        [
            mq::Spawned::Duplicate(first),
            mq::Spawned::Inserted(batch[1].id()),
            mq::Spawned::Duplicate(batch[1].id()),
        ]
    );

    // A transaction holds the key, uncommitted: a spawn from the pool
    // waits for it, then gets its job.
    let (spawned_tx, spawned_in_tx) = oneshot::channel();
    let (release, hold) = oneshot::channel();
    let pool = db.pool.clone();
    let held = job("held");
    let held_id = held.id();
    rt::spawn(async move {
        let plan = TxPlan {
            hold: Some((spawned_tx, hold)),
            commit: true,
            ..TxPlan::default()
        };
        D::spawn_with(&pool, &held, plan).await;
    });
    assert_eq!(spawned_in_tx.await.unwrap(), held_id);
    let (waiting_done, waiting) = oneshot::channel();
    let pool = db.pool.clone();
    let contender = job("held");
    rt::spawn(async move {
        let spawned = contender.spawn_deduplicated(D::executor(&pool)).await;
        let _ = waiting_done.send(spawned);
    });
    crate::support::wait_for(
        "the contending spawn to wait on the transaction",
        || async {
            db.count(
                "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .await
                >= 1
        },
    )
    .await;
    release.send(()).unwrap();
    assert_eq!(
        waiting.await.unwrap().unwrap(),
        mq::Spawned::Duplicate(held_id)
    );

    // Run them all; then each key can be taken again.
    let (_runner, log) = recording_runner(db, |_| {}, |job| job.id().to_string()).await;
    for id in [first, batch[1].id(), held_id] {
        db.wait_gone(id).await;
    }
    assert_eq!(log.items().len(), 3, "a duplicate ran: {:?}", log.items());
    let again = job("race");
    assert_eq!(again.spawn(db.ex()).await.unwrap(), again.id());
}
