//! Channel limits across runners: concurrency over a channel and per
//! argument, beside an unlimited channel.

use std::time::{Duration, Instant};

use mq::admin::ChannelLimit;
use mq::{CurrentJob, JobRegistry, job};

use crate::support::{Db, Driver, Log, rt, wait_for};

type JobResult = Result<(), Box<dyn std::error::Error + Send + Sync + 'static>>;

/// One run of a job: its channel name and arguments, and when its code
/// started and ended.
type Run = (String, String, Instant, Instant);

/// Works for 30 ms, and records it. The run ends before the completion
/// is written: once it is, the job's slot is free and another runner may
/// start a job of the channel while this task has yet to read the clock
/// (on a busy machine, long after), which would look like one run too many
/// at once. Recorded this way, a run lies within the time its job held its
/// slot, from its claim to its completion.
#[job]
async fn work(mut job: CurrentJob, log: Log<Run>) -> JobResult {
    let start = Instant::now();
    rt::sleep(Duration::from_millis(30)).await;
    let channel = (job.channel_name().to_owned(), job.channel_args().to_owned());
    let end = Instant::now();
    job.complete().await?;
    log.push((channel.0, channel.1, start, end));
    Ok(())
}

/// The most runs of `runs` that overlapped at any instant.
fn most_at_once<'a>(runs: impl Iterator<Item = &'a Run>) -> usize {
    let mut edges: Vec<(Instant, i32)> = Vec::new();
    for (_, _, start, end) in runs {
        edges.push((*start, 1));
        edges.push((*end, -1));
    }
    // Ends before starts at the same instant.
    edges.sort();
    let (mut now, mut most) = (0i32, 0i32);
    for (_, step) in edges {
        now += step;
        most = most.max(now);
    }
    most as usize
}

/// Two runners (two processes, as far as the database can tell) drain a
/// channel limited to 3 at once, one limited to 1 at once per argument,
/// and an unlimited one: each limit holds across both, and is used.
pub async fn limits_hold_across_runners<D: Driver>(db: &Db<D>) {
    let log: Log<Run> = Log::default();
    let start = |registry: &JobRegistry, limits: Vec<ChannelLimit>| {
        let mut options = registry.runner(db.src());
        options.set_concurrency(8, 16);
        for limit in limits {
            options.set_channel_limit(limit);
        }
        async move { options.run().await.unwrap() }
    };
    let mut registry = JobRegistry::new(&[work]);
    registry.set_context(log.clone());
    let three = ChannelLimit::new("three").set_concurrency(3).unwrap();
    let per_tenant = ChannelLimit::new("tenants")
        .set_concurrency(1)
        .unwrap()
        .set_per_args(true);
    // One runner sets the limits as it starts; the other reads them.
    let _first = start(&registry, vec![three, per_tenant]).await;
    let _second = start(&registry, vec![]).await;

    let mut builders = Vec::new();
    for i in 0..60 {
        let mut builder = work.builder();
        match i % 3 {
            0 => builder.set_channel_name("three"),
            1 => builder
                .set_channel_name("tenants")
                .set_channel_args(if i % 2 == 0 { "x" } else { "y" }),
            _ => builder.set_channel_name("free"),
        };
        builders.push(builder);
    }
    mq::spawn_many(db.ex(), &builders).await.unwrap();
    // Meanwhile, the limits' use never passes them.
    wait_for("every job to run", || async {
        for info in mq::admin::limits(db.ex()).await.unwrap() {
            let most = info.limit.concurrency().unwrap_or(u32::MAX);
            assert!(info.running <= u64::from(most), "{info:?}");
        }
        log.len() >= 60
    })
    .await;

    let runs = log.items();
    let of = |name: &'static str, args: Option<&'static str>| {
        runs.iter()
            .filter(move |run| run.0 == name && args.is_none_or(|args| run.1 == args))
    };
    assert_eq!(of("three", None).count(), 20);
    let three = most_at_once(of("three", None));
    assert!(
        (2..=3).contains(&three),
        "{three} of the channel limited to 3 ran at once"
    );
    for tenant in ["x", "y"] {
        let at_once = most_at_once(of("tenants", Some(tenant)));
        assert_eq!(at_once, 1, "{at_once} of tenant {tenant} ran at once");
    }
    assert_eq!(
        most_at_once(of("tenants", None)),
        2,
        "the tenants ran side by side"
    );
    assert!(
        most_at_once(of("free", None)) > 3,
        "the unlimited channel was held back"
    );
    let limits = mq::admin::limits(db.ex()).await.unwrap();
    assert_eq!(limits.len(), 2);
    assert!(
        limits
            .iter()
            .all(|info| info.running == 0 && info.waiting == 0)
    );
}
