//! Conformance cases of `Backend::activity_record`, with the listings that
//! read what it records (`throughput_list`, `runner_list`).

use super::*;
use crate::activity::{
    ActivityRecordParams, MinuteCount, RUNNER_PRUNE_AFTER, RunnerListParams, ThroughputListParams,
    minute_of,
};

const RETENTION: Duration = Duration::from_secs(3600);

/// The start of a minute, `n` minutes after the clock's.
fn minute(t: Clock, n: i64) -> OffsetDateTime {
    minute_of(t.at(0.0).unwrap()) + time::Duration::minutes(n)
}

fn count(minute: OffsetDateTime, channel: &str, counts: (u64, u64, u64)) -> MinuteCount {
    MinuteCount::new(minute, channel.to_owned(), counts.0, counts.1, counts.2)
}

async fn report(
    backend: &dyn Backend,
    now: OffsetDateTime,
    runner: Uuid,
    name: &str,
    minutes: &[MinuteCount],
    stopping: bool,
) {
    backend
        .activity_record(ActivityRecordParams {
            runner,
            name,
            running: minutes.len() as u32,
            max_concurrency: 10,
            minutes,
            stopping,
            retention: RETENTION,
            now: Some(now),
        })
        .await
        .expect("activity_record");
}

async fn throughput(
    backend: &dyn Backend,
    now: OffsetDateTime,
    since: Duration,
) -> Vec<(i64, String, u64, u64, u64)> {
    let base = minute_of(now).unix_timestamp();
    backend
        .throughput_list(ThroughputListParams {
            since,
            now: Some(now),
        })
        .await
        .expect("throughput_list")
        .into_iter()
        .map(|c| {
            (
                (c.minute.unix_timestamp() - base) / 60,
                c.channel_name,
                c.completed,
                c.retried,
                c.failed,
            )
        })
        .collect()
}

async fn runner_names(backend: &dyn Backend) -> Vec<String> {
    backend
        .runner_list(RunnerListParams {})
        .await
        .expect("runner_list")
        .into_iter()
        .map(|runner| runner.name)
        .collect()
}

/// Counts of one minute and channel add up over reports and runners; the
/// listing gives the minutes that end within `since`, by minute then
/// channel name.
pub async fn adds_counts_across_reports_and_runners(backend: &dyn Backend) {
    let t = Clock::new();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let now = minute(t, 0) + time::Duration::seconds(30);
    report(
        backend,
        now,
        a,
        "a",
        &[
            count(minute(t, -2), "mail", (1, 0, 0)),
            count(minute(t, -1), "mail", (2, 1, 0)),
            count(minute(t, -1), "pdf", (0, 0, 3)),
        ],
        false,
    )
    .await;
    report(
        backend,
        now,
        b,
        "b",
        &[count(minute(t, -1), "mail", (5, 0, 1))],
        false,
    )
    .await;
    report(
        backend,
        now,
        a,
        "a",
        &[count(minute(t, 0), "mail", (1, 0, 0))],
        false,
    )
    .await;
    assert_eq!(
        throughput(backend, now, Duration::from_secs(3600)).await,
        vec![
            (-2, "mail".to_owned(), 1, 0, 0),
            (-1, "mail".to_owned(), 7, 1, 1),
            (-1, "pdf".to_owned(), 0, 0, 3),
            (0, "mail".to_owned(), 1, 0, 0),
        ]
    );
    // A minute is listed while any of it is within `since`.
    let recent = throughput(backend, now, Duration::from_secs(60)).await;
    assert_eq!(
        recent.iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![-1, -1, 0]
    );
}

/// Runners are listed by name with what they last reported, from their
/// first report until they stop, or until they go unseen for
/// `RUNNER_PRUNE_AFTER` (another runner's report removes them).
pub async fn lists_runners_until_they_stop_or_go_unseen(backend: &dyn Backend) {
    let t = Clock::new();
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    assert!(runner_names(backend).await.is_empty());
    report(backend, t.at(0.0).unwrap(), b, "b", &[], false).await;
    report(backend, t.at(1.0).unwrap(), a, "a", &[], false).await;
    report(backend, t.at(2.0).unwrap(), c, "c", &[], false).await;
    let two = [
        count(minute(t, 0), "x", (1, 0, 0)),
        count(minute(t, 0), "y", (1, 0, 0)),
    ];
    report(backend, t.at(5.0).unwrap(), a, "a", &two, false).await;
    let runners = backend.runner_list(RunnerListParams {}).await.unwrap();
    assert_eq!(
        runners.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        vec!["a", "b", "c"]
    );
    let first = &runners[0];
    assert_eq!(first.id, a);
    assert_eq!(first.started_at, t.at(1.0).unwrap());
    assert_eq!(first.seen_at, t.at(5.0).unwrap());
    assert_eq!((first.running, first.max_concurrency), (2, 10));

    report(backend, t.at(6.0).unwrap(), c, "c", &[], true).await;
    assert_eq!(runner_names(backend).await, vec!["a", "b"]);

    // b last reported at 0; a reports just before and just after b's
    // prune time.
    let prune = RUNNER_PRUNE_AFTER.as_secs_f64();
    report(backend, t.at(prune - 1.0).unwrap(), a, "a", &[], false).await;
    assert_eq!(runner_names(backend).await, vec!["a", "b"]);
    report(backend, t.at(prune + 1.0).unwrap(), a, "a", &[], false).await;
    assert_eq!(runner_names(backend).await, vec!["a"]);
}

/// A report deletes the minutes older than its retention, and keeps the
/// others.
pub async fn prunes_minutes_past_the_retention(backend: &dyn Backend) {
    let t = Clock::new();
    let a = Uuid::now_v7();
    let retention_minutes = (RETENTION.as_secs() / 60) as i64;
    report(
        backend,
        minute(t, 0),
        a,
        "a",
        &[
            count(minute(t, -2), "mail", (1, 0, 0)),
            count(minute(t, -1), "mail", (1, 0, 0)),
            count(minute(t, 0), "mail", (1, 0, 0)),
        ],
        false,
    )
    .await;
    // At minute -1 + retention, minute -2 is past it and -1 is not.
    let later = minute(t, retention_minutes - 1);
    report(backend, later, a, "a", &[], false).await;
    let left = throughput(backend, later, RETENTION * 2).await;
    assert_eq!(
        left.iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![-retention_minutes, -retention_minutes + 1],
        "minutes -1 and 0, seen from {retention_minutes} minutes later"
    );
}
