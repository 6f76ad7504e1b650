//! Periodic jobs: schedules declared by several runners, each tick spawned
//! once, a stopped leader replaced.

use std::time::Duration;

use mq::{CurrentJob, JobRegistry, Schedule, job};

use crate::support::{Db, Driver, Log, wait_for};

type JobResult = Result<(), Box<dyn std::error::Error + Send + Sync + 'static>>;

/// What a tick's job saw: its id, and the tick it was told it covers.
type Ran = (mq::Uuid, Option<time::OffsetDateTime>);

/// Records that it ran, and completes.
#[job(channel_name = "periodic")]
async fn tick(mut job: CurrentJob, log: Log<Ran>) -> JobResult {
    log.push((job.id(), job.tick()));
    job.complete().await?;
    Ok(())
}

/// How many ticks were spawned more than once, and how many are missing
/// between the first and the last: both must stay 0. A tick is read from
/// its job's unique key, `schedule@time`.
const DUPLICATE_TICKS: &str =
    "SELECT count(*) - count(DISTINCT unique_key) FROM mq_jobs WHERE name = 'tick'";
const MISSING_TICKS: &str = "SELECT coalesce(extract(epoch FROM max(t) - min(t))::bigint + 1 - count(DISTINCT t), 0) \
     FROM (SELECT split_part(unique_key, '@', 2)::timestamptz AS t FROM mq_jobs WHERE name = 'tick') AS ticks";

/// Two runners (two processes, as far as the database can tell) declare a
/// one-second schedule, one of them added after its runner started: each
/// tick runs once. The first runner stops and the other takes over
/// without a tick lost; removing the schedule gives its lease up.
pub async fn periodic_jobs_run_once_per_tick_across_runners<D: Driver>(db: &Db<D>) {
    let every_second = || Schedule::every("tick", Duration::from_secs(1)).unwrap();
    let log: Log<Ran> = Log::default();
    let start = |registry: &JobRegistry| {
        let mut options = registry.runner(db.src());
        options
            .set_schedule_lease(Duration::from_secs(2))
            .set_keep_completed(true);
        async move { options.run().await.unwrap() }
    };
    let mut first = JobRegistry::new(&[tick]);
    first.set_context(log.clone());
    first.add_schedule(every_second());
    let mut first_runner = start(&first).await;
    let mut second = JobRegistry::new(&[tick]);
    second.set_context(log.clone());
    let _second_runner = start(&second).await;
    second.add_schedule(every_second());

    log.wait_len(3).await;
    let schedules = mq::admin::schedules(db.ex()).await.unwrap();
    assert_eq!(schedules.len(), 1, "{schedules:?}");
    let listed = &schedules[0];
    assert_eq!(
        (listed.name.as_str(), listed.job_name.as_str()),
        ("tick", "tick")
    );
    assert_eq!(listed.expression, "every 1s");
    assert!(
        listed.leader.is_some() && listed.last_run_at.is_some(),
        "{listed:?}"
    );
    let first_leader = listed.leader;

    // Whichever led, stopping the first runner leaves the second to run
    // every tick from then on.
    first_runner.stop().await;
    let ran = log.len();
    log.wait_len(ran + 3).await;
    assert_eq!(
        db.count(DUPLICATE_TICKS).await,
        0,
        "a tick was spawned twice"
    );
    assert_eq!(db.count(MISSING_TICKS).await, 0, "a tick was skipped");
    let listed = mq::admin::schedules(db.ex()).await.unwrap().remove(0);
    assert!(listed.leader.is_some(), "{listed:?}");
    if first_leader != listed.leader {
        // The first runner led, and gave its lease up as it stopped.
        assert!(listed.leader_until.is_some());
    }

    assert!(second.remove_schedule("tick"));
    wait_for("the removed schedule's lease to be given up", || async {
        mq::admin::schedules(db.ex()).await.unwrap()[0]
            .leader
            .is_none()
    })
    .await;
    assert_eq!(
        db.count(DUPLICATE_TICKS).await,
        0,
        "a tick was spawned twice"
    );
    assert_eq!(db.count(MISSING_TICKS).await, 0, "a tick was skipped");

    // Each job was told the tick it was spawned for: the one its key names.
    for (id, told) in log.items() {
        let job = mq::admin::get(db.ex(), id).await.unwrap().expect("kept");
        let told = told.expect("a periodic job knows its tick");
        let key = job.unique_key.expect("a tick's key");
        let named = key.split_once('@').expect("schedule@tick").1;
        let told_text = told
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        assert_eq!(told_text, named, "job {id}");
        assert_eq!(job.tick, Some(told), "job_get of {id}");
    }
}

/// A rolling deploy that changes a schedule: a runner of the new version
/// starts beside one of the old. The new definition is taken up and stays
/// in force while the old runner goes on declaring its own every half
/// second; its ticks go on. Once the new runner is gone (the deploy rolled
/// back), the old definition is taken up again within a lease, and its
/// ticks run.
pub async fn a_rolling_deploy_keeps_the_newest_schedule<D: Driver>(db: &Db<D>) {
    let log: Log<Ran> = Log::default();
    let start = |every: u64| {
        let mut registry = JobRegistry::new(&[tick]);
        registry.set_context(log.clone());
        registry.add_schedule(Schedule::every("tick", Duration::from_secs(every)).unwrap());
        let mut options = registry.runner(db.src());
        options
            .set_schedule_lease(Duration::from_secs(2))
            .set_keep_completed(true);
        async move { options.run().await.unwrap() }
    };
    let expression = || async {
        mq::admin::schedules(db.ex())
            .await
            .unwrap()
            .pop()
            .filter(|listed| listed.leader.is_some())
            .map(|listed| listed.expression)
    };
    let _old = start(2).await;
    log.wait_len(1).await;
    assert_eq!(expression().await.as_deref(), Some("every 2s"));

    let mut new = start(1).await;
    wait_for("the new definition to be taken up", || async {
        expression().await.as_deref() == Some("every 1s")
    })
    .await;
    // Over three of its ticks (six of the old runner's declarations), the
    // new definition stays in force.
    let ran = log.len();
    while log.len() < ran + 3 {
        let listed = mq::admin::schedules(db.ex()).await.unwrap().remove(0);
        assert_eq!(listed.expression, "every 1s", "{listed:?}");
        crate::support::rt::sleep(Duration::from_millis(100)).await;
    }

    new.stop().await;
    wait_for("the old definition to be taken up again", || async {
        expression().await.as_deref() == Some("every 2s")
    })
    .await;
    let ran = log.len();
    log.wait_len(ran + 1).await;
    assert_eq!(
        db.count(DUPLICATE_TICKS).await,
        0,
        "a tick was spawned twice"
    );
}
