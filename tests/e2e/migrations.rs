//! Migrations: concurrent, idempotent, and refusing a newer schema.

use std::time::Duration;

use mq::{Error, JobState, Uuid, admin};
use mq_test_db::TestDb;

use crate::support::{Db, Driver, Runtime, recording_runner, rt, wait_for};

/// Eight processes' worth of pools migrating one empty database at once
/// all succeed, and the schema is applied once.
pub async fn concurrent_migrations_apply_once<D: Driver>(_db: &Db<D>) {
    let fresh = TestDb::create();
    let mut pools = Vec::new();
    for _ in 0..8 {
        pools.push(D::connect(fresh.url()).await);
    }
    let results =
        futures::future::join_all(pools.iter().map(|pool| mq::migrate(D::executor(pool)))).await;
    for result in results {
        result.expect("a concurrent migration failed");
    }
    // Every migration once: versions 1, 2... with no gap and no repeat.
    const EACH_ONCE: &str = "SELECT count(*) FROM (SELECT max(version) AS v FROM mq_migrations) latest \
         WHERE (SELECT count(*) FROM mq_migrations) = latest.v \
           AND (SELECT count(DISTINCT version) FROM mq_migrations) = latest.v";
    assert_eq!(D::count(&pools[0], EACH_ONCE).await, 1);
    assert!(D::count(&pools[0], "SELECT count(*) FROM mq_migrations").await >= 2);
    // And again: nothing to do.
    mq::migrate(D::executor(&pools[0])).await.unwrap();
    assert_eq!(D::count(&pools[0], EACH_ONCE).await, 1);
}

/// A database migrated by a newer mq is refused with a clear error.
pub async fn newer_schema_is_refused<D: Driver>(db: &Db<D>) {
    db.exec("INSERT INTO mq_migrations (version, name) VALUES (999, 'from the future')")
        .await;
    match mq::migrate(db.ex()).await {
        Err(Error::SchemaTooNew { found, supported }) => {
            assert_eq!(found, 999);
            assert!(supported < 999);
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

/// The schema as it was at version 1, with jobs of every kind spawned under
/// it: ordered channels (one with a failed head, one held by an uncommitted
/// head), unordered and delayed jobs.
const VERSION_1: &str = include_str!("../../migrations/0001_jobs.sql");
const VERSION_1_JOBS: &str = "
CREATE TABLE mq_migrations (
    version    bigint PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO mq_migrations (version, name) VALUES (1, 'jobs');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff, errors)
VALUES
    ('00000000-0000-7000-8000-000000000001', 'ready', 'o1', 'o', '', true, now(), NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000002', 'ready', 'o2', 'o', '', true, now(), NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000003', 'ready', 'o3', 'o', '', true, now(), NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000004', 'failed', 'f1', 'f', '', true, now(), NULL, 1, 1, 0, '1s',
     '[{\"attempt\": 1, \"at\": \"2026-01-01T00:00:00+00:00\", \"error\": \"boom\"}]'),
    ('00000000-0000-7000-8000-000000000005', 'ready', 'f2', 'f', '', true, now(), NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000006', 'uncommitted', 'p1', 'p', '', true, now(),
     now() + interval '1 hour', 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000007', 'ready', 'p2', 'p', '', true, now(), NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000008', 'ready', 'u', 'u', '', false, now(), NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000009', 'scheduled', 'later', 'u', '', false,
     now() + interval '1 hour', NULL, 0, 0, 3, '1s', NULL);
";

fn v1_id(n: u8) -> Uuid {
    Uuid::parse_str(&format!("00000000-0000-7000-8000-{n:012}")).unwrap()
}

/// A database of schema version 1, with its jobs, migrates in place: the
/// ordered jobs behind each channel's head become blocked, and every job
/// then runs as it would have (in order, after its failed head is retried,
/// after its uncommitted head is committed).
pub async fn upgrades_a_version_1_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from::<D>(&[VERSION_1, VERSION_1_JOBS]).await;

    let expect = [
        (1, Some(JobState::Ready)),
        (2, Some(JobState::Blocked)),
        (3, Some(JobState::Blocked)),
        (4, Some(JobState::Failed)),
        (5, Some(JobState::Blocked)),
        (6, Some(JobState::Uncommitted)),
        (7, Some(JobState::Blocked)),
        (8, Some(JobState::Ready)),
        (9, Some(JobState::Scheduled)),
    ];
    for (n, state) in expect {
        assert_eq!(db.state(v1_id(n)).await, state, "job {n}");
    }

    let (_runner, log) = recording_runner(&db, |_| {}, |job| job.name().to_owned()).await;
    for n in [1, 2, 3, 8] {
        db.wait_gone(v1_id(n)).await;
    }
    let mut ran = log.items();
    ran.sort_by_key(|name| name != "u");
    assert_eq!(ran, ["u", "o1", "o2", "o3"]);
    assert_eq!(db.state(v1_id(5)).await, Some(JobState::Blocked));

    admin::retry(db.ex(), &[v1_id(4)]).await.unwrap();
    db.wait_gone(v1_id(5)).await;
    mq::commit(db.ex(), &[v1_id(6)]).await.unwrap();
    db.wait_gone(v1_id(7)).await;
    assert_eq!(
        log.items()[4..],
        [
            "f1".to_owned(),
            "f2".to_owned(),
            "p1".to_owned(),
            "p2".to_owned()
        ]
    );
    assert_eq!(db.state(v1_id(9)).await, Some(JobState::Scheduled));
}

/// The schema as it was at version 2, with jobs spawned under it: ready
/// jobs on a channel, a failed one, a scheduled one, and an ordered
/// channel with its head ready and a job blocked behind it.
const VERSION_2: &str = include_str!("../../migrations/0002_ordered_blocked.sql");
const VERSION_2_JOBS: &str = "
CREATE TABLE mq_migrations (
    version    bigint PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO mq_migrations (version, name) VALUES (1, 'jobs'), (2, 'ordered_blocked');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff, errors)
VALUES
    ('00000000-0000-7000-8000-000000000001', 'ready', 'r1', 'c', '', false, now(), NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000002', 'ready', 'r2', 'c', '', false, now(), NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000003', 'ready', 'r3', 'c', '', false, now(), NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000004', 'failed', 'f', 'c', '', false, now(), NULL, 1, 1, 0, '1s',
     '[{\"attempt\": 1, \"at\": \"2026-01-01T00:00:00+00:00\", \"error\": \"boom\"}]'),
    ('00000000-0000-7000-8000-000000000005', 'scheduled', 'later', 'c', '', false,
     now() + interval '1 hour', NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000006', 'ready', 'o1', 'o', '', true, now(), NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000007', 'blocked', 'o2', 'o', '', true, now(), NULL, 0, 0, 3, '1s', NULL);
";

/// A database of schema version 2, with its jobs, migrates in place: its
/// ready jobs keep their order in the ready queue, every job that becomes
/// ready later (spawned, retried, unblocked) takes a place after them, and
/// every job then runs.
pub async fn upgrades_a_version_2_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(2).await;

    // The ready jobs are numbered in spawn order; the others wait for theirs.
    assert_eq!(
        db.count("SELECT count(*) FROM mq_jobs WHERE state = 'ready' AND ready_seq = seq")
            .await,
        4
    );
    assert_eq!(
        db.count("SELECT count(*) FROM mq_jobs WHERE state <> 'ready' AND ready_seq = 0")
            .await,
        3
    );
    let new = mq::JobBuilder::new("new")
        .set_channel_name("c")
        .spawn(db.ex())
        .await
        .unwrap();
    admin::retry(db.ex(), &[v1_id(4)]).await.unwrap();
    const AFTER_THE_OLD: &str = "SELECT count(*) FROM mq_jobs j
        WHERE j.name IN ('new', 'f')
          AND j.ready_seq > (SELECT max(seq) FROM mq_jobs WHERE name IN ('r1', 'r2', 'r3', 'o1'))";
    assert_eq!(db.count(AFTER_THE_OLD).await, 2);
    assert_eq!(
        db.count(
            "SELECT count(*) FROM mq_jobs f, mq_jobs n
             WHERE f.name = 'f' AND n.name = 'new' AND f.ready_seq > n.ready_seq"
        )
        .await,
        1,
        "a retried job did not go behind a job spawned before the retry"
    );

    let (_runner, log) = recording_runner(&db, |_| {}, |job| job.name().to_owned()).await;
    for n in [1, 2, 3, 4, 6, 7] {
        db.wait_gone(v1_id(n)).await;
    }
    db.wait_gone(new).await;
    let ran = log.items();
    let place = |name: &str| ran.iter().position(|n| n == name).unwrap();
    assert!(
        place("o1") < place("o2"),
        "ordered jobs ran out of order: {ran:?}"
    );
    assert_eq!(db.state(v1_id(5)).await, Some(JobState::Scheduled));
}

/// The schema as it was at version 3, with jobs spawned under it: a ready
/// job, one scheduled a second ahead and one an hour ahead.
const VERSION_3: &str = include_str!("../../migrations/0003_ready_seq.sql");
const VERSION_3_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (3, 'ready_seq');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff, errors)
VALUES
    ('00000000-0000-7000-8000-000000000011', 'ready', 'r', 'c', '', false, now(), NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000012', 'scheduled', 'soon', 'c', '', false,
     now() + interval '1 second', NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000013', 'scheduled', 'later', 'c', '', false,
     now() + interval '1 hour', NULL, 0, 0, 3, '1s', NULL);
";

/// A database of schema version 3, with its jobs, migrates in place: its
/// scheduled jobs are in the new index of scheduled jobs, which tells
/// runners when the next is due (they poll only once an hour here), and
/// every job runs when its time comes.
pub async fn upgrades_a_version_3_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(3).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 4);
    assert_eq!(
        db.count("SELECT count(*) FROM pg_indexes WHERE indexname = 'mq_jobs_scheduled'")
            .await,
        1
    );
    // Version 2's scheduled job and both of version 3's.
    assert_eq!(
        db.count("SELECT count(*) FROM mq_jobs WHERE state = 'scheduled'")
            .await,
        3
    );

    let (_runner, log) = recording_runner(
        &db,
        |options| {
            options.set_poll_interval(Duration::from_secs(3600));
        },
        |job| job.name().to_owned(),
    )
    .await;
    let soon = old_job(0x12);
    db.wait_gone(soon).await;
    assert!(log.items().contains(&"r".to_owned()));
    let later = old_job(0x13);
    assert_eq!(db.state(later).await, Some(JobState::Scheduled));
}

/// The schema as it was at version 4, with jobs spawned under it: one
/// ready, one that failed its first attempt and waits to retry, and one
/// failed for good.
const VERSION_4: &str = include_str!("../../migrations/0004_scheduled_index.sql");
const VERSION_4_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (4, 'scheduled_index');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff, errors)
VALUES
    ('00000000-0000-7000-8000-000000000021', 'ready', 'ok', 'v4', '', false, now(), NULL, 0, 0, 3, '1s', NULL),
    ('00000000-0000-7000-8000-000000000022', 'scheduled', 'retry', 'v4', '', false,
     now() + interval '200 milliseconds', NULL, 1, 1, 3, '10ms',
     '[{\"attempt\": 1, \"at\": \"2026-01-01T00:00:00+00:00\", \"error\": \"boom\"}]'),
    ('00000000-0000-7000-8000-000000000023', 'failed', 'gave up', 'v4', '', false, now(), NULL, 1, 1, 0, '1s',
     '[{\"attempt\": 1, \"at\": \"2026-01-01T00:00:00+00:00\", \"error\": \"boom\"}]');
";

/// A database of schema version 4, with its jobs, migrates in place to
/// version 5 (a cap on retry waits, and jitter): its jobs keep the policy
/// they were spawned with (uncapped, no jitter), the one waiting to retry
/// runs its next attempt, a failed one can be retried, and new jobs store
/// the new options.
pub async fn upgrades_a_version_4_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(4).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 5);
    let id = old_job;
    let retrying = admin::get(db.ex(), id(0x22)).await.unwrap().unwrap();
    assert_eq!(retrying.retry_backoff_max, None);
    assert!(!retrying.retry_jitter);
    assert_eq!(retrying.errors.len(), 1);

    admin::retry(db.ex(), &[id(0x23)]).await.unwrap();
    let new = mq::JobBuilder::new("new")
        .set_channel_name("v4")
        .set_retry_backoff_max(Duration::from_secs(30))
        .set_retry_jitter(true)
        .spawn(db.ex())
        .await
        .unwrap();
    let stored = admin::get(db.ex(), new).await.unwrap().unwrap();
    assert_eq!(stored.retry_backoff_max, Some(Duration::from_secs(30)));
    assert!(stored.retry_jitter);

    let (_runner, log) = recording_runner(
        &db,
        |options| {
            options.set_channel_names(&["v4"]);
        },
        |job| (job.name().to_owned(), job.attempt()),
    )
    .await;
    for job in [id(0x21), id(0x22), id(0x23), new] {
        db.wait_gone(job).await;
    }
    let ran = log.items();
    assert!(ran.contains(&("retry".to_owned(), 2)), "{ran:?}");
    assert!(ran.contains(&("gave up".to_owned(), 1)), "{ran:?}");
}

/// The schema as it was at version 5, with jobs spawned under it: one
/// ready with a capped, jittered retry policy, one running under a lease,
/// and one ordered job blocked behind it.
const VERSION_5: &str = include_str!("../../migrations/0005_retry_limits.sql");
const VERSION_5_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (5, 'retry_limits');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff,
                     retry_backoff_max, retry_jitter)
VALUES
    ('00000000-0000-7000-8000-000000000031', 'ready', 'capped', 'v5', '', false, now(), NULL,
     0, 0, 3, '1s', '1m', true),
    ('00000000-0000-7000-8000-000000000032', 'running', 'head', 'v5', '', true,
     now() - interval '1 second', NULL, 1, 1, 3, '10ms', NULL, false),
    ('00000000-0000-7000-8000-000000000033', 'blocked', 'next', 'v5', '', true, now(), NULL,
     0, 0, 3, '10ms', NULL, false);
";

/// A database of schema version 5, with its jobs, migrates in place to
/// version 6 (paused channels): nothing is paused after the upgrade, the
/// jobs keep their retry policy and run (the lapsed lease comes back, the
/// ordered job after it), and a channel can then be paused and resumed.
pub async fn upgrades_a_version_5_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(5).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 6);
    let id = old_job;
    let stats = admin::stats(db.ex()).await.unwrap();
    assert!(stats.paused.is_empty());
    assert!(stats.counts.iter().any(|row| row.channel_name == "v5"
        && row.state == mq::JobState::Blocked
        && row.count == 1));
    let capped = admin::get(db.ex(), id(0x31)).await.unwrap().unwrap();
    assert_eq!(capped.retry_backoff_max, Some(Duration::from_secs(60)));
    assert!(capped.retry_jitter);

    assert!(admin::pause(db.ex(), "v5").await.unwrap());
    assert!(admin::stats(db.ex()).await.unwrap().is_paused("v5"));
    admin::resume(db.ex(), "v5").await.unwrap();

    let (_runner, log) = recording_runner(
        &db,
        |options| {
            options.set_channel_names(&["v5"]);
        },
        |job| job.name().to_owned(),
    )
    .await;
    for job in [id(0x31), id(0x32), id(0x33)] {
        db.wait_gone(job).await;
    }
    let ran = log.items();
    let at = |name: &str| ran.iter().position(|n| n == name);
    assert!(at("head") < at("next"), "{ran:?}");
}

/// The schema as it was at version 6, with jobs spawned under it: an
/// ordered head, running under a lease that has not lapsed, the ordered
/// job blocked behind it, one ready job, and a paused channel.
const VERSION_6: &str = include_str!("../../migrations/0006_channel_pauses.sql");
const VERSION_6_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (6, 'channel_pauses');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff)
VALUES
    ('00000000-0000-7000-8000-000000000041', 'running', 'head', 'v6', '', true,
     now() + interval '1 hour', NULL, 1, 1, 3, '10ms'),
    ('00000000-0000-7000-8000-000000000042', 'blocked', 'next', 'v6', '', true, now(), NULL,
     0, 0, 3, '10ms'),
    ('00000000-0000-7000-8000-000000000043', 'ready', 'later', 'v6 paused', '', false, now(), NULL,
     0, 0, 3, '10ms');
INSERT INTO mq_channel_pauses (channel_name, paused_at) VALUES ('v6 paused', now());
";

/// A database of schema version 6, with its jobs, migrates in place to
/// version 8 (cancelled jobs, whose enum value migration 8 never names, as
/// it cannot be used in the transaction that adds it): the pause holds, cancelling the running
/// ordered head frees its channel, and the cancelled job is pruned.
pub async fn upgrades_a_version_6_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(6).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 8);
    let id = old_job;
    assert!(admin::stats(db.ex()).await.unwrap().is_paused("v6 paused"));

    let (_runner, log) = recording_runner(
        &db,
        |options| {
            options.set_channel_names(&["v6", "v6 paused"]);
        },
        |job| job.name().to_owned(),
    )
    .await;
    assert_eq!(
        mq::cancel(db.ex(), id(0x41)).await.unwrap(),
        mq::CancelOutcome::CancelledRunning
    );
    db.wait_gone(id(0x42)).await;
    assert_eq!(db.state(id(0x43)).await, Some(mq::JobState::Ready));
    admin::resume(db.ex(), "v6 paused").await.unwrap();
    db.wait_gone(id(0x43)).await;
    assert_eq!(log.items(), vec!["next".to_owned(), "later".to_owned()]);
    assert_eq!(db.state(id(0x41)).await, Some(mq::JobState::Cancelled));
    assert_eq!(
        admin::prune(db.ex(), Duration::ZERO, &[mq::JobState::Cancelled])
            .await
            .unwrap(),
        1
    );
}

/// The schema as it was at version 8, with jobs spawned under it: one
/// ready, one cancelled.
const VERSION_7: &str = include_str!("../../migrations/0007_cancelled_state.sql");
const VERSION_8: &str = include_str!("../../migrations/0008_cancelled_jobs.sql");
const VERSION_8_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (7, 'cancelled_state'), (8, 'cancelled_jobs');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff)
VALUES
    ('00000000-0000-7000-8000-000000000051', 'ready', 'plain', 'v8', '', false, now(), NULL,
     0, 0, 3, '10ms'),
    ('00000000-0000-7000-8000-000000000052', 'cancelled', 'gone', 'v8', '', false, now(), NULL,
     1, 1, 3, '10ms');
";

/// A database of schema version 8, with its jobs, migrates in place to
/// version 9 (timeouts): its jobs have none and run, the cancelled one
/// stays cancelled, and a new job stores its timeout.
pub async fn upgrades_a_version_8_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(8).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 9);
    let id = old_job;
    let plain = admin::get(db.ex(), id(0x51)).await.unwrap().unwrap();
    assert_eq!(plain.timeout, None);
    let new = mq::JobBuilder::new("new")
        .set_channel_name("v8")
        .set_timeout(Duration::from_secs(90))
        .spawn(db.ex())
        .await
        .unwrap();
    let stored = admin::get(db.ex(), new).await.unwrap().unwrap();
    assert_eq!(stored.timeout, Some(Duration::from_secs(90)));

    let (_runner, log) = recording_runner(
        &db,
        |options| {
            options.set_channel_names(&["v8"]);
        },
        |job| job.name().to_owned(),
    )
    .await;
    db.wait_gone(id(0x51)).await;
    db.wait_gone(new).await;
    let mut ran = log.items();
    ran.sort();
    assert_eq!(ran, vec!["new".to_owned(), "plain".to_owned()]);
    assert_eq!(db.state(id(0x52)).await, Some(mq::JobState::Cancelled));
}

const VERSION_9: &str = include_str!("../../migrations/0009_timeouts.sql");
const VERSION_9_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (9, 'timeouts');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff, timeout)
VALUES
    ('00000000-0000-7000-8000-000000000061', 'ready', 'first', 'v9', '', false, now(), NULL,
     0, 0, 3, '10ms', '1 minute'),
    ('00000000-0000-7000-8000-000000000062', 'ready', 'second', 'v9', '', false, now(), NULL,
     0, 0, 3, '10ms', NULL);
";

/// A database of schema version 9, with its jobs, migrates in place to
/// version 10 (priorities): its jobs have priority 0 and keep their order;
/// a job of higher priority spawned after the upgrade runs before them,
/// and one of lower priority after.
pub async fn upgrades_a_version_9_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(9).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 10);
    let id = old_job;
    let first = admin::get(db.ex(), id(0x61)).await.unwrap().unwrap();
    assert_eq!(first.priority, 0);
    assert_eq!(first.timeout, Some(Duration::from_secs(60)));
    let mut spawned = Vec::new();
    for (name, priority) in [("late", -1), ("urgent", 3)] {
        spawned.push(
            mq::JobBuilder::new(name)
                .set_channel_name("v9")
                .set_priority(priority)
                .spawn(db.ex())
                .await
                .unwrap(),
        );
    }
    let (_runner, log) = recording_runner(
        &db,
        |options| {
            options.set_channel_names(&["v9"]).set_concurrency(1, 1);
        },
        |job| job.name().to_owned(),
    )
    .await;
    for job in [id(0x61), id(0x62)].into_iter().chain(spawned) {
        db.wait_gone(job).await;
    }
    assert_eq!(log.items(), ["urgent", "first", "second", "late"]);
}

const VERSION_10: &str = include_str!("../../migrations/0010_priorities.sql");
const VERSION_10_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (10, 'priorities');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff, priority)
VALUES
    ('00000000-0000-7000-8000-000000000071', 'ready', 'old', 'v10', '', false, now(), NULL,
     0, 0, 3, '10ms', 4);
";

/// A database of schema version 10, with its jobs, migrates in place to
/// version 11 (unique jobs): its jobs have no key and run; a job spawned
/// with a key after the upgrade holds it until it has run.
pub async fn upgrades_a_version_10_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(10).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 11);
    let old = old_job(0x71);
    let stored = admin::get(db.ex(), old).await.unwrap().unwrap();
    assert_eq!((stored.priority, stored.unique_key), (4, None));
    let keyed = || {
        let mut b = mq::JobBuilder::new("keyed");
        b.set_channel_name("v10").set_unique_key("k");
        b
    };
    let first = keyed().spawn(db.ex()).await.unwrap();
    assert_eq!(keyed().spawn(db.ex()).await.unwrap(), first);

    let (_runner, log) = recording_runner(
        &db,
        |options| {
            options.set_channel_names(&["v10"]);
        },
        |job| job.name().to_owned(),
    )
    .await;
    db.wait_gone(old).await;
    db.wait_gone(first).await;
    let mut ran = log.items();
    ran.sort();
    assert_eq!(ran, ["keyed", "old"]);
    let again = keyed();
    assert_eq!(again.spawn(db.ex()).await.unwrap(), again.id());
}

const VERSION_11: &str = include_str!("../../migrations/0011_unique_jobs.sql");
const VERSION_11_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (11, 'unique_jobs');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff, unique_key)
VALUES
    ('00000000-0000-7000-8000-000000000081', 'ready', 'keyed', 'v11', '', false, now(), NULL,
     0, 0, 3, '10ms', 'k11');
";

/// A database of schema version 11, with its jobs, migrates in place to
/// version 12 (periodic jobs' schedules): its keyed job still holds its
/// key and runs; schedules can be declared and listed.
pub async fn upgrades_a_version_11_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    use mq::testing::backend::{DeclaredSchedule, ScheduleDeclareParams};

    let db = migrated_from_version::<D>(11).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 12);
    let old = old_job(0x81);
    let mut keyed = mq::JobBuilder::new("keyed");
    keyed.set_channel_name("v11").set_unique_key("k11");
    assert_eq!(keyed.spawn(db.ex()).await.unwrap(), old);

    assert!(admin::schedules(db.ex()).await.unwrap().is_empty());
    let runner = Uuid::now_v7();
    let due = time::OffsetDateTime::now_utc() + Duration::from_secs(60);
    let declared = db
        .backend()
        .schedule_declare(ScheduleDeclareParams {
            runner,
            schedules: &[DeclaredSchedule {
                name: "nightly".to_owned(),
                job_name: "report".to_owned(),
                expression: "0 0 3 * * *".to_owned(),
                time_zone: None,
                missed: "skip".to_owned(),
                first_due: due,
                defined_at: None,
            }],
            lease: Duration::from_secs(10),
            prune_after: Duration::from_secs(3600),
            now: None,
        })
        .await
        .unwrap();
    assert!(declared.schedules[0].leading);
    let listed = admin::schedules(db.ex()).await.unwrap();
    assert_eq!(listed[0].leader, Some(runner));

    let (_runner, log) = recording_runner(
        &db,
        |options| {
            options.set_channel_names(&["v11"]);
        },
        |job| job.id(),
    )
    .await;
    db.wait_gone(old).await;
    assert_eq!(log.items(), [old]);
}

const VERSION_12: &str = include_str!("../../migrations/0012_schedules.sql");
const VERSION_12_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (12, 'schedules');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff)
VALUES
    ('00000000-0000-7000-8000-000000000091', 'ready', 'old', 'v12', 'a', false, now(), NULL,
     0, 0, 3, '10ms'),
    ('00000000-0000-7000-8000-000000000092', 'ready', 'old', 'v12', 'b', false, now(), NULL,
     0, 0, 3, '10ms');
INSERT INTO mq_schedules (name, job_name, expression, missed, next_run_at, declared_at)
VALUES ('nightly', 'report', '0 0 3 * * *', 'skip', now() + interval '1 day', now());
";

/// A database of schema version 12, with its jobs and a schedule,
/// migrates in place to version 13 (channel limits): a limit set on its
/// channel afterwards holds its jobs to one at a time, and they run.
pub async fn upgrades_a_version_12_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(12).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 13);
    assert_eq!(admin::schedules(db.ex()).await.unwrap()[0].name, "nightly");
    let limit = admin::ChannelLimit::new("v12").set_concurrency(1).unwrap();
    assert!(admin::set_limit(db.ex(), &limit).await.unwrap());
    let limits = admin::limits(db.ex()).await.unwrap();
    assert_eq!((limits[0].waiting, limits[0].running), (2, 0));

    let (_runner, log) = recording_runner(
        &db,
        |options| {
            options.set_channel_names(&["v12"]);
        },
        |job| job.channel_args().to_owned(),
    )
    .await;
    for id in [0x91, 0x92] {
        db.wait_gone(old_job(id)).await;
    }
    let mut ran = log.items();
    ran.sort();
    assert_eq!(ran, ["a", "b"]);
}

const VERSION_13: &str = include_str!("../../migrations/0013_channel_limits.sql");
const VERSION_13_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (13, 'channel_limits');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff)
VALUES
    ('00000000-0000-7000-8000-0000000000a1', 'ready', 'old', 'v13', 'a', false, now(), NULL,
     0, 0, 3, '10ms'),
    ('00000000-0000-7000-8000-0000000000a2', 'ready', 'old', 'v13', 'b', false, now(), NULL,
     0, 0, 3, '10ms');
INSERT INTO mq_channel_limits (channel_name, per_args, concurrency) VALUES ('v13', false, 1);
";

/// A database of schema version 13, with its jobs and a limit, migrates in
/// place to version 14 (runners' reports): its jobs run under their limit,
/// and the runner reports itself and counts them.
pub async fn upgrades_a_version_13_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(13).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 14);
    assert!(admin::runners(db.ex()).await.unwrap().is_empty());
    let (_runner, log) = recording_runner(
        &db,
        |options| {
            options
                .set_channel_names(&["v13"])
                .set_name("upgraded")
                .set_activity_interval(Some(Duration::from_millis(20)));
        },
        |job| job.channel_args().to_owned(),
    )
    .await;
    for id in [0xa1, 0xa2] {
        db.wait_gone(old_job(id)).await;
    }
    let mut ran = log.items();
    ran.sort();
    assert_eq!(ran, ["a", "b"]);
    wait_for("the runner to report both jobs", || async {
        let counted: u64 = admin::throughput(db.ex(), Duration::from_secs(600))
            .await
            .unwrap()
            .iter()
            .filter(|c| c.channel_name == "v13")
            .map(|c| c.completed)
            .sum();
        let runners = admin::runners(db.ex()).await.unwrap();
        counted == 2 && runners.len() == 1 && runners[0].name == "upgraded"
    })
    .await;
}

const VERSION_14: &str = include_str!("../../migrations/0014_activity.sql");
const VERSION_14_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (14, 'activity');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff)
VALUES
    ('00000000-0000-7000-8000-0000000000b1', 'ready', 'old', 'v14', 'a', false, now(), NULL,
     0, 0, 3, '10ms'),
    ('00000000-0000-7000-8000-0000000000b2', 'scheduled', 'old', 'v14', 'b', false,
     now() + interval '1 hour', NULL, 0, 0, 3, '10ms');
";

/// A database of schema version 14, with its jobs, migrates in place to
/// version 15 (trace contexts): its jobs have none and run without one,
/// and a job spawned afterwards stores its trace context and hands it to
/// its attempt.
pub async fn upgrades_a_version_14_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(14).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 15);
    let old = old_job;
    let waiting = admin::get(db.ex(), old(0xb2)).await.unwrap().unwrap();
    assert_eq!(waiting.state, JobState::Scheduled);
    assert_eq!(waiting.trace_context, None);

    const CONTEXT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let traced = mq::JobBuilder::new("new")
        .set_channel_name("v14")
        .set_channel_args("c")
        .set_trace_context(Some(CONTEXT.to_owned()))
        .spawn(db.ex())
        .await
        .unwrap();
    assert_eq!(
        admin::get(db.ex(), traced)
            .await
            .unwrap()
            .unwrap()
            .trace_context
            .as_deref(),
        Some(CONTEXT)
    );

    let (_runner, log) = recording_runner(
        &db,
        |options| {
            options.set_channel_names(&["v14"]);
        },
        |job| {
            (
                job.channel_args().to_owned(),
                job.trace_context().map(str::to_owned),
            )
        },
    )
    .await;
    db.wait_gone(old(0xb1)).await;
    db.wait_gone(traced).await;
    let mut ran = log.items();
    ran.sort();
    assert_eq!(
        ran,
        [
            ("a".to_owned(), None),
            ("c".to_owned(), Some(CONTEXT.to_owned()))
        ]
    );
}

const VERSION_15: &str = include_str!("../../migrations/0015_trace_context.sql");
const VERSION_15_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (15, 'trace_context');
INSERT INTO mq_channel_limits (channel_name, per_args, concurrency) VALUES ('v15', false, 1);
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff)
VALUES
    ('00000000-0000-7000-8000-0000000000c1', 'running', 'old', 'v15', 'a', false,
     now() + interval '1 hour', NULL, 1, 1, 3, '10ms'),
    ('00000000-0000-7000-8000-0000000000c2', 'ready', 'old', 'v15', 'b', false, now(), NULL,
     0, 0, 3, '10ms');
INSERT INTO mq_limit_claims (job_id, lease_token, channel_name, channel_args, claimed_at)
VALUES ('00000000-0000-7000-8000-0000000000c1', 1, 'v15', 'a', now());
";

/// A database of schema version 15, with a limited channel whose one slot
/// a job claimed under version 15 holds, migrates in place to version 16
/// (limited claims in one statement) and on: the new claims count that
/// job's claim, so its channel's ready job waits while it runs and runs
/// once it is gone.
pub async fn upgrades_a_version_15_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(15).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 16);
    an_old_claim_holds_its_slot(&db, "v15", old_job(0xc1), old_job(0xc2)).await;
}

const VERSION_16: &str = include_str!("../../migrations/0016_limit_used.sql");
const VERSION_16_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (16, 'limit_used');
INSERT INTO mq_channel_limits (channel_name, per_args, concurrency) VALUES ('v16', false, 1);
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff, limit_slot)
VALUES
    ('00000000-0000-7000-8000-0000000000d1', 'running', 'old', 'v16', 'a', false,
     now() + interval '1 hour', NULL, 1, 1, 3, '10ms', true),
    ('00000000-0000-7000-8000-0000000000d2', 'ready', 'old', 'v16', 'b', false, now(), NULL,
     0, 0, 3, '10ms', false);
";

/// A database of schema version 16, with a limited channel whose one slot
/// a job claimed under version 16 holds, migrates in place to version 17
/// (limited claims checked after they claim): the new claims count that
/// job, so its channel's ready job waits while it runs and runs once it is
/// gone. A claim of a version-16 runner still running beside them marks
/// the limit so that the new claims' checks count again.
pub async fn upgrades_a_version_16_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(16).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 17);
    an_old_claim_holds_its_slot(&db, "v16", old_job(0xd1), old_job(0xd2)).await;

    // What version 16's claim statement calls first.
    let before = db
        .count("SELECT claimed_total FROM mq_channel_limits WHERE channel_name = 'v16'")
        .await;
    assert_eq!(
        db.count("SELECT count(*) FROM mq_limit_used('v16', false, NULL, now())")
            .await,
        0,
        "nothing of the channel runs any more"
    );
    let after = db
        .count("SELECT claimed_total FROM mq_channel_limits WHERE channel_name = 'v16'")
        .await;
    assert!(
        after - before > i64::from(i32::MAX),
        "an old claim adds more than any limit: {before} then {after}"
    );
}

const VERSION_17: &str = include_str!("../../migrations/0017_limit_check.sql");
const VERSION_17_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (17, 'limit_check');
INSERT INTO mq_channel_limits (channel_name, per_args, concurrency, claimed_total)
VALUES ('v17', false, 1, 5);
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff, limit_slot)
VALUES
    ('00000000-0000-7000-8000-0000000000e1', 'running', 'old', 'v17', 'a', false,
     now() + interval '1 hour', NULL, 1, 1, 3, '10ms', true),
    ('00000000-0000-7000-8000-0000000000e2', 'ready', 'old', 'v17', 'b', false, now(), NULL,
     0, 0, 3, '10ms', false);
";

/// A database of schema version 17, with a limited channel whose one slot
/// a job claimed under version 17 holds, migrates in place to version 18
/// (the bound on running jobs kept with each limit): with no bound yet,
/// the new claims count that job, so its channel's ready job waits while
/// it runs and runs once it is gone; that claim's check sets the bound.
/// Version 17's claims, during a rolling deploy, still find the check they
/// call.
pub async fn upgrades_a_version_17_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(17).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 18);
    assert_eq!(
        db.count(
            "SELECT count(*) FROM mq_channel_limits \
             WHERE channel_name = 'v17' AND released_total IS NULL"
        )
        .await,
        1,
        "no bound until a claim counts"
    );
    an_old_claim_holds_its_slot(&db, "v17", old_job(0xe1), old_job(0xe2)).await;
    // The claim of the waiting job counted nothing running, and added
    // itself: one job claimed since the bound, at most one running.
    assert_eq!(
        db.count(
            "SELECT claimed_total - released_total FROM mq_channel_limits \
             WHERE channel_name = 'v17'"
        )
        .await,
        1
    );
    assert_eq!(
        db.count(
            "SELECT count(*) FROM mq_channel_limits \
             WHERE channel_name = 'v17' \
               AND mq_limit_check('v17', ARRAY[]::uuid[], ARRAY[]::text[], now(), 0, now(), 0, 0)"
        )
        .await,
        1,
        "version 17's claim statement calls the check with the same arguments"
    );
    // A version-17 claim that took the channel's one slot while another
    // job held it fails its check.
    db.exec(
        "INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                             attempt, lease_token, retries, retry_backoff, limit_slot)
         VALUES ('00000000-0000-7000-8000-0000000000e3', 'running', 'old', 'v17', 'a', false,
                 now() + interval '1 hour', 1, 1, 3, '10ms', true),
                ('00000000-0000-7000-8000-0000000000e4', 'running', 'old', 'v17', 'b', false,
                 now() + interval '1 hour', 1, 1, 3, '10ms', true)",
    )
    .await;
    db.exec(
        "DO $$
         BEGIN
             PERFORM mq_limit_check('v17', ARRAY['00000000-0000-7000-8000-0000000000e4'::uuid],
                                    ARRAY['b'], now(), l.claimed_total - 5, l.updated_at, 0, 0)
             FROM mq_channel_limits l WHERE l.channel_name = 'v17';
             RAISE EXCEPTION 'the check let a second job into a limit of one';
         EXCEPTION WHEN serialization_failure THEN
             NULL;
         END $$",
    )
    .await;
}

const VERSION_18: &str = include_str!("../../migrations/0018_limit_bound.sql");
const VERSION_18_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (18, 'limit_bound');
INSERT INTO mq_channel_limits (channel_name, per_args, concurrency, claimed_total, released_total)
VALUES ('v18', false, 1, 40, 30);
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff, limit_slot)
VALUES
    ('00000000-0000-7000-8000-0000000000f1', 'running', 'old', 'v18', 'a', false,
     now() + interval '1 hour', NULL, 1, 1, 3, '10ms', true),
    ('00000000-0000-7000-8000-0000000000f2', 'ready', 'old', 'v18', 'b', false, now(), NULL,
     0, 0, 3, '10ms', false);
";

/// A database of schema version 18, with a limited channel whose one slot
/// a job claimed under version 18 holds and whose bound is loose (ten
/// jobs, where one runs), migrates in place to version 19 (the second
/// count under the lock tightens the bound): the new claims count that
/// job, so its channel's ready job waits while it runs and runs once it is
/// gone; and a second count, as a claim whose check is in doubt makes it,
/// leaves the bound exact.
pub async fn upgrades_a_version_18_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(18).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 19);
    an_old_claim_holds_its_slot(&db, "v18", old_job(0xf1), old_job(0xf2)).await;

    // A claim of one job (0xf3) that its check left in doubt: its job is
    // marked and added to claimed_total, the bound left loose.
    db.exec(
        "INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                             attempt, lease_token, retries, retry_backoff, limit_slot)
         VALUES ('00000000-0000-7000-8000-0000000000f3', 'running', 'old', 'v18', 'c', false,
                 now() + interval '1 hour', 1, 1, 3, '10ms', true)",
    )
    .await;
    db.exec(
        "UPDATE mq_channel_limits
         SET claimed_total = claimed_total + 1, released_total = claimed_total - 5
         WHERE channel_name = 'v18'",
    )
    .await;
    assert_eq!(
        db.count(
            "SELECT count(*) FROM mq_channel_limits \
             WHERE channel_name = 'v18' \
               AND mq_limit_recount('v18', ARRAY['00000000-0000-7000-8000-0000000000f3'::uuid], \
                                    ARRAY['c'], now(), false, 1, NULL, NULL)"
        )
        .await,
        1,
        "the claim's job alone is within the limit"
    );
    assert_eq!(
        db.count(
            "SELECT claimed_total - released_total FROM mq_channel_limits \
             WHERE channel_name = 'v18'"
        )
        .await,
        1,
        "the second count leaves the bound exact: one job runs"
    );
}

const VERSION_19: &str = include_str!("../../migrations/0019_recount_bound.sql");
const VERSION_19_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (19, 'recount_bound');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff)
VALUES
    ('00000000-0000-7000-8000-000000000101', 'ready', 'old', 'v19', '', false, now(), NULL,
     0, 0, 3, '10ms');
INSERT INTO mq_schedules (name, job_name, expression, missed, next_run_at, leader, leader_until,
                          declared_at)
VALUES ('nightly19', 'report', '0 0 3 * * *', 'skip', now() + interval '1 day',
        '00000000-0000-7000-8000-000000000102', now() + interval '1 hour', now());
";

/// A database of schema version 19, with a ready job and a schedule led
/// by a runner of version 19, migrates in place to version 20 (the newest
/// definition of a schedule wins): the job runs; a runner of this version
/// declaring the same definition leaves the old runner its lease and the
/// schedule its due time, and its declaration makes that definition the
/// newest, so that an older, different one declared afterwards changes
/// nothing.
pub async fn upgrades_a_version_19_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    use mq::testing::backend::{DeclaredSchedule, ScheduleDeclareParams};

    let db = migrated_from_version::<D>(19).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 20);
    let (_runner, log) = recording_runner(
        &db,
        |options| {
            options.set_channel_names(&["v19"]);
        },
        |job| job.id(),
    )
    .await;
    let old = old_job(0x101);
    db.wait_gone(old).await;
    assert_eq!(log.items(), [old]);

    let nightly = || async {
        admin::schedules(db.ex())
            .await
            .unwrap()
            .into_iter()
            .find(|listed| listed.name == "nightly19")
            .unwrap()
    };
    let before = nightly().await;
    let now = time::OffsetDateTime::now_utc();
    let declare = |runner: Uuid, expression: &str, defined_at| {
        let schedule = DeclaredSchedule {
            name: "nightly19".to_owned(),
            job_name: "report".to_owned(),
            expression: expression.to_owned(),
            time_zone: None,
            missed: "skip".to_owned(),
            first_due: now + Duration::from_secs(60),
            defined_at,
        };
        let backend = db.backend();
        async move {
            backend
                .schedule_declare(ScheduleDeclareParams {
                    runner,
                    schedules: &[schedule],
                    lease: Duration::from_secs(10),
                    prune_after: Duration::from_secs(3600),
                    now: None,
                })
                .await
                .unwrap()
        }
    };
    assert_eq!(
        before.defined_at, None,
        "version 19 recorded no definition time"
    );
    let same = declare(Uuid::now_v7(), "0 0 3 * * *", None).await;
    assert!(!same.schedules[0].leading, "the old runner's lease holds");
    assert_eq!(nightly().await.defined_at, Some(same.now));
    let older = declare(
        Uuid::now_v7(),
        "0 0 4 * * *",
        Some(now - Duration::from_secs(86_400)),
    )
    .await;
    assert!(
        !older.schedules[0].leading,
        "an older definition does not lead"
    );
    let after = nightly().await;
    assert_eq!(after.expression, "0 0 3 * * *");
    assert_eq!(after.next_run_at, before.next_run_at);
    assert_eq!(after.leader, Some(old_job(0x102)));
}

const VERSION_20: &str = include_str!("../../migrations/0020_schedule_definitions.sql");
const VERSION_20_JOBS: &str = "
INSERT INTO mq_migrations (version, name) VALUES (20, 'schedule_definitions');
INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                     commit_deadline, attempt, lease_token, retries, retry_backoff, unique_key)
VALUES
    ('00000000-0000-7000-8000-000000000103', 'ready', 'report', 'v20', '', false, now(), NULL,
     0, 0, 3, '10ms', 'nightly20@2026-11-30T03:00:00Z'),
    ('00000000-0000-7000-8000-000000000104', 'ready', 'old', 'v20', '', false, now(), NULL,
     0, 0, 3, '10ms', NULL);
";

/// A database of schema version 20, with a ready job that a schedule
/// spawned under version 20 and a plain one, migrates in place to version
/// 21 (a periodic job's tick): both jobs run, and neither claims a tick,
/// in the attempt or in `admin::get` (version 20 kept the tick only in the
/// key, which is the caller's text).
pub async fn upgrades_a_version_20_database_with_its_jobs<D: Driver>(_db: &Db<D>) {
    let db = migrated_from_version::<D>(20).await;
    assert!(db.count("SELECT max(version) FROM mq_migrations").await >= 21);
    let (report, plain) = (old_job(0x103), old_job(0x104));
    for id in [report, plain] {
        let info = admin::get(db.ex(), id).await.unwrap().expect("migrated");
        assert_eq!((info.state, info.tick), (JobState::Ready, None), "{id}");
    }
    let (_runner, log) = recording_runner(
        &db,
        |options| {
            options.set_channel_names(&["v20"]);
        },
        |job| (job.id(), job.tick()),
    )
    .await;
    db.wait_gone(report).await;
    db.wait_gone(plain).await;
    let mut ran = log.items();
    ran.sort();
    assert_eq!(ran, [(report, None), (plain, None)]);
}

/// On `channel`, limited to one job at once, the job `holder` runs under a
/// claim made before the upgrade: a runner of this version leaves `waiting`
/// ready until `holder` is deleted, then runs it.
async fn an_old_claim_holds_its_slot<D: Driver>(
    db: &Db<D>,
    channel: &'static str,
    holder: Uuid,
    waiting: Uuid,
) {
    let (_runner, log) = recording_runner(
        db,
        |options| {
            options
                .set_channel_names(&[channel])
                .set_name("upgraded")
                .set_activity_interval(Some(Duration::from_millis(20)));
        },
        |job| job.channel_args().to_owned(),
    )
    .await;
    // The runner is up, has read the limits and made its first claims:
    // the old claim holds the slot.
    wait_for("the runner to report itself", || async {
        !admin::runners(db.ex()).await.unwrap().is_empty()
    })
    .await;
    rt::sleep(Duration::from_millis(300)).await;
    let ready = admin::get(db.ex(), waiting).await.unwrap().unwrap();
    assert_eq!(ready.state, JobState::Ready, "the limit's one slot is held");
    assert!(log.items().is_empty());

    // The old job ends: its slot is free, and the waiting job runs.
    assert_eq!(admin::delete(db.ex(), &[holder]).await.unwrap(), [holder]);
    db.wait_gone(waiting).await;
    assert_eq!(log.items(), ["b"]);
}

/// The id of job `n` of the scripts below (`00000000-0000-7000-8000-000000000NNN`).
fn old_job(n: u128) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0000 | n)
}

/// The schema's history as the upgrade tests replay it: each version's
/// migration, then the jobs spawned under it. (Version 1's jobs are its own
/// test's: the later versions' jobs create the migrations table.)
const HISTORY: &[(u32, &str)] = &[
    (1, VERSION_1),
    (2, VERSION_2),
    (2, VERSION_2_JOBS),
    (3, VERSION_3),
    (3, VERSION_3_JOBS),
    (4, VERSION_4),
    (4, VERSION_4_JOBS),
    (5, VERSION_5),
    (5, VERSION_5_JOBS),
    (6, VERSION_6),
    (6, VERSION_6_JOBS),
    (7, VERSION_7),
    (8, VERSION_8),
    (8, VERSION_8_JOBS),
    (9, VERSION_9),
    (9, VERSION_9_JOBS),
    (10, VERSION_10),
    (10, VERSION_10_JOBS),
    (11, VERSION_11),
    (11, VERSION_11_JOBS),
    (12, VERSION_12),
    (12, VERSION_12_JOBS),
    (13, VERSION_13),
    (13, VERSION_13_JOBS),
    (14, VERSION_14),
    (14, VERSION_14_JOBS),
    (15, VERSION_15),
    (15, VERSION_15_JOBS),
    (16, VERSION_16),
    (16, VERSION_16_JOBS),
    (17, VERSION_17),
    (17, VERSION_17_JOBS),
    (18, VERSION_18),
    (18, VERSION_18_JOBS),
    (19, VERSION_19),
    (19, VERSION_19_JOBS),
    (20, VERSION_20),
    (20, VERSION_20_JOBS),
];

/// A fresh database at schema `version`, with the jobs of every version up
/// to it, then migrated by this mq.
async fn migrated_from_version<D: Driver>(version: u32) -> Db<D> {
    let scripts: Vec<&'static str> = HISTORY
        .iter()
        .filter(|(at, _)| *at <= version)
        .map(|(_, script)| *script)
        .collect();
    migrated_from::<D>(&scripts).await
}

/// A fresh database built by `scripts` (an old schema and its jobs), then
/// migrated by this mq.
async fn migrated_from<D: Driver>(scripts: &[&'static str]) -> Db<D> {
    let fresh = TestDb::create();
    let pool = D::connect(fresh.url()).await;
    for script in scripts {
        D::exec(&pool, script).await;
    }
    mq::migrate(D::executor(&pool)).await.unwrap();
    Db::<D>::on(pool, fresh, Runtime::current())
}
