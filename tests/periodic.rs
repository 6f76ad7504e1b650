//! Periodic jobs on the in-memory backend: what a runner does with the
//! ticks missed while every process was down, by policy.

use std::time::Duration;

use mq::testing::MemoryBackend;
use mq::testing::backend::{
    Backend, DeclaredSchedule, ScheduleDeclareParams, ScheduleReleaseParams,
};
use mq::{JobRegistry, MissedTicks, Schedule, Uuid};
use time::OffsetDateTime;

const DAY: Duration = Duration::from_secs(86_400);

/// A daily schedule (at midnight UTC) that considers a tick missed once it
/// is a second late, so that after ten days down every tick but, at worst,
/// one of today's first second, is missed.
fn daily(missed: MissedTicks) -> Schedule {
    Schedule::every("daily", DAY)
        .unwrap()
        .set_missed(missed)
        .set_missed_after(Duration::from_secs(1))
}

/// Stores the schedule as a process that ran ten days ago left it: due
/// ten days ago, its lease given up.
async fn left_ten_days_ago(backend: &MemoryBackend, schedule: &Schedule) -> OffsetDateTime {
    let runner = Uuid::now_v7();
    let due = OffsetDateTime::now_utc() - DAY * 10;
    backend
        .schedule_declare(ScheduleDeclareParams {
            runner,
            schedules: &[DeclaredSchedule {
                name: schedule.name().to_owned(),
                job_name: schedule.job_name().to_owned(),
                expression: schedule.expression(),
                time_zone: None,
                missed: schedule.missed().to_string(),
                first_due: due,
                defined_at: None,
            }],
            lease: Duration::from_secs(10),
            prune_after: DAY * 30,
            now: None,
        })
        .await
        .unwrap();
    backend
        .schedule_release(ScheduleReleaseParams {
            runner,
            names: None,
        })
        .await
        .unwrap();
    due
}

/// Starts a runner declaring `schedule`, waits until it fired (the due
/// time is in the future), and returns how many jobs it spawned.
async fn jobs_after_restart(schedule: Schedule) -> usize {
    let backend = MemoryBackend::new();
    let due = left_ten_days_ago(&backend, &schedule).await;
    let registry = JobRegistry::new(&[]);
    registry.add_schedule(schedule);
    let mut options = registry.runner(&backend);
    // Nothing claims the spawned jobs: they are counted as they are.
    options.set_channel_names(&["elsewhere"]);
    let _runner = options.run().await.unwrap();
    let start = std::time::Instant::now();
    loop {
        let listed = mq::admin::schedules(&backend).await.unwrap();
        if listed[0].next_run_at > OffsetDateTime::now_utc() {
            assert!(listed[0].next_run_at <= OffsetDateTime::now_utc() + DAY);
            assert!(listed[0].last_run_at.is_none_or(|tick| tick >= due));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never fired");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    backend.len()
}

#[tokio::test]
async fn missed_ticks_follow_the_policy_after_an_outage() {
    // At worst one of the eleven ticks is on time (a restart within a
    // second of midnight): each count allows for it.
    let skip = jobs_after_restart(daily(MissedTicks::Skip)).await;
    assert!(skip <= 1, "skip spawned {skip}");
    let latest = jobs_after_restart(daily(MissedTicks::RunLatest)).await;
    assert_eq!(latest, 1);
    let backfill = jobs_after_restart(daily(MissedTicks::Backfill { max: 4 })).await;
    assert!((4..=5).contains(&backfill), "backfill spawned {backfill}");
    let all = jobs_after_restart(daily(MissedTicks::Backfill { max: 100 })).await;
    assert!((10..=11).contains(&all), "backfill spawned {all}");
}

#[tokio::test]
async fn a_schedule_that_never_ticks_again_fires_nothing_more() {
    // Every tick of this expression is in the past.
    let once = Schedule::cron("once", "0 0 0 1 1 * 2020").unwrap();
    let backend = MemoryBackend::new();
    let registry = JobRegistry::new(&[]);
    registry.add_schedule(once);
    let _runner = registry.runner(&backend).run().await.unwrap();
    let start = std::time::Instant::now();
    let listed = loop {
        let listed = mq::admin::schedules(&backend).await.unwrap();
        if !listed.is_empty() {
            break listed;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never declared");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(listed[0].next_run_at.year(), 9999);
    assert!(backend.is_empty());
}
