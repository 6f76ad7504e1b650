//! Liveness: every job that no rule holds back runs, however the runners
//! are stopped and however other transactions hold rows. Each case is a
//! fault that was once reproduced here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use mq::report::{JobOutcome, JobReport, RunnerMetrics};
use mq::{JobBuilder, JobRunnerOptions, JobState, Uuid};

use crate::support::{Db, Driver, Log, PATIENCE, TxPlan, recording_runner, rt, wait_for};

/// 600 ordered channels whose heads failed for good (each with a successor
/// waiting behind it) do not keep a runner from the unordered jobs of
/// channels before, among and after them.
pub async fn blocked_ordered_channels_do_not_starve_the_others<D: Driver>(db: &Db<D>) {
    let mut builders = Vec::new();
    for i in 0..600 {
        let channel = format!("m{i:03}");
        let mut head = JobBuilder::new("head");
        head.set_channel_name(&channel)
            .set_ordered(true)
            .set_retries(0);
        let mut next = JobBuilder::new("next");
        next.set_channel_name(&channel).set_ordered(true);
        builders.push(head);
        builders.push(next);
    }
    mq::spawn_many(db.ex(), &builders).await.unwrap();
    // A runner whose every job fails: the heads fail for good.
    let mut failing = JobRunnerOptions::new(db.src(), drop).run().await.unwrap();
    wait_for("the 600 heads to fail", || async {
        db.count("SELECT count(*) FROM mq_jobs WHERE state = 'failed'")
            .await
            == 600
    })
    .await;
    failing.stop().await;
    assert_eq!(
        db.count("SELECT count(*) FROM mq_jobs WHERE state = 'blocked'")
            .await,
        600
    );

    let free: Vec<JobBuilder> = ["a", "m100x", "m300x", "m599x", "z"]
        .iter()
        .map(|channel| {
            let mut b = JobBuilder::new("free");
            b.set_channel_name(*channel);
            b
        })
        .collect();
    let ids = mq::spawn_many(db.ex(), &free).await.unwrap();
    // Small claims: a claim that wasted its limit on blocked channels
    // would never reach most of these.
    let (_runner, log) = recording_runner(
        db,
        |o| {
            o.set_concurrency(1, 2);
        },
        |job| job.id(),
    )
    .await;
    for id in &ids {
        db.wait_gone(*id).await;
    }
    assert_eq!(log.len(), 5, "only the free jobs ran");
}

/// A runner stopped while claims are in flight strands no job: whatever it
/// handed to user code completes normally, and whatever it had claimed but
/// not handed out is ready again at once, its attempt given back.
pub async fn stopping_strands_no_job<D: Driver>(db: &Db<D>) {
    let mut spawned = 0;
    for round in 0..30u64 {
        let concurrency = 1 + (round % 8) as usize;
        let errors: Log<String> = Log::default();
        let sink = errors.clone();
        let mut options = JobRunnerOptions::new(db.src(), move |mut job| {
            let sink = sink.clone();
            rt::spawn(async move {
                if let Err(error) = job.complete().await {
                    sink.push(format!("{}: {error}", job.id()));
                }
            });
        });
        options.set_concurrency(concurrency, concurrency);
        let mut runner = options.run().await.unwrap();
        let builders: Vec<JobBuilder> = (0..50).map(|_| JobBuilder::new("j")).collect();
        mq::spawn_many(db.ex(), &builders).await.unwrap();
        spawned += 50;
        rt::sleep(Duration::from_millis(round % 7)).await;
        runner.stop().await;
        assert!(runner.wait_jobs_finish(PATIENCE).await, "round {round}");
        assert_eq!(errors.items(), Vec::<String>::new(), "round {round}");
        // Nothing is left running, and no attempt was spent on a job that
        // did not run.
        assert_eq!(
            db.count("SELECT count(*) FROM mq_jobs WHERE state <> 'ready' OR attempt <> 0")
                .await,
            0,
            "round {round}"
        );
    }
    let left = db.count("SELECT count(*) FROM mq_jobs").await;
    assert!(left < spawned, "the runners ran some jobs");
    let (_runner, log) = recording_runner(db, |_| {}, |job| job.id()).await;
    log.wait_len(usize::try_from(left).unwrap()).await;
    wait_for("the queue to empty", || async {
        db.count("SELECT count(*) FROM mq_jobs").await == 0
    })
    .await;
}

/// Records the outcome of every attempt a runner reports.
#[derive(Default)]
struct Outcomes(Log<(Uuid, JobOutcome)>);

impl RunnerMetrics for Outcomes {
    fn job_finished(&self, report: &JobReport<'_>) {
        self.0.push((report.id, report.outcome));
    }
}

/// A job completed (or checkpointed) in a transaction that stays open holds
/// its own row, and nothing else: the leases of the runner's other jobs are
/// renewed meanwhile (keep-alive skips the held row rather than waiting
/// for it, which would let the leases after it lapse and their jobs run
/// twice), and the completed job is not reported lost.
pub async fn an_open_transaction_holds_up_no_other_lease<D: Driver>(db: &Db<D>) {
    let outcomes = Arc::new(Outcomes::default());
    let starts: Log<(Uuid, i32)> = Log::default();
    let (pool, log) = (db.pool.clone(), starts.clone());
    let mut options = JobRunnerOptions::new(db.src(), move |mut job| {
        let (pool, log) = (pool.clone(), log.clone());
        log.push((job.id(), job.attempt()));
        rt::spawn(async move {
            if job.name() == "holder" {
                D::hold_in_transaction(&pool, &mut job, false, Duration::from_millis(2500))
                    .await
                    .unwrap();
            } else if job.name() == "checkpointer" {
                D::hold_in_transaction(&pool, &mut job, true, Duration::from_millis(2500))
                    .await
                    .unwrap();
                job.complete().await.unwrap();
            } else {
                // Longer than the lease: only keep-alive saves it.
                rt::sleep(Duration::from_millis(2500)).await;
                job.complete().await.unwrap();
            }
        });
    });
    options
        .set_lease(Duration::from_secs(1))
        .set_metrics(outcomes.clone());
    let _runner = options.run().await.unwrap();
    // Spawned in this order, so the held rows come first in id order.
    let ids = mq::spawn_many(
        db.ex(),
        &[
            JobBuilder::new("holder"),
            JobBuilder::new("checkpointer"),
            JobBuilder::new("long"),
            JobBuilder::new("long"),
        ],
    )
    .await
    .unwrap();
    for id in &ids {
        db.wait_gone(*id).await;
    }
    wait_for("every outcome", || async { outcomes.0.len() >= 4 }).await;
    let mut reported = outcomes.0.items();
    reported.sort_by_key(|(id, _)| *id);
    let expected: Vec<_> = ids.iter().map(|id| (*id, JobOutcome::Completed)).collect();
    assert_eq!(reported, expected);
    assert_eq!(
        starts.items().len(),
        4,
        "a job ran twice: {:?}",
        starts.items()
    );
}

/// A job completed in a transaction that then rolls back runs again as soon
/// as the job returns, not after its lease (30 s) lapses; the rollback is in
/// its error history.
pub async fn a_rolled_back_completion_runs_again_at_once<D: Driver>(db: &Db<D>) {
    let starts: Log<(i32, Instant)> = Log::default();
    let (pool, log) = (db.pool.clone(), starts.clone());
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let (pool, log) = (pool.clone(), log.clone());
        log.push((job.attempt(), Instant::now()));
        rt::spawn(async move {
            if job.attempt() == 1 {
                D::complete_in_transaction(&pool, &mut job, "SELECT 1", false)
                    .await
                    .unwrap();
                // Returns with the completion rolled back.
            } else {
                job.complete().await.unwrap();
            }
        });
    })
    .run()
    .await
    .unwrap();
    let mut builder = JobBuilder::new("j");
    builder.set_retry_backoff(Duration::ZERO);
    let id = builder.spawn(db.ex()).await.unwrap();
    db.wait_gone(id).await;
    let starts = starts.items();
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert_eq!((starts[0].0, starts[1].0), (1, 2));
    let waited = starts[1].1 - starts[0].1;
    assert!(
        waited < Duration::from_secs(10),
        "the job waited {waited:?} for its lease"
    );
}

/// Ordered jobs spawned on one channel by concurrent transactions never
/// run at once, whichever commits first: a job whose transaction commits
/// while a later-spawned job of its channel runs waits for it.
pub async fn ordered_spawns_in_concurrent_transactions_run_one_at_a_time<D: Driver>(db: &Db<D>) {
    let mut early = JobBuilder::new("early");
    early.set_channel_name("o").set_ordered(true);
    let (spawned_tx, spawned) = oneshot::channel();
    let (release, hold) = oneshot::channel();
    let pool = db.pool.clone();
    let (committed_tx, committed) = oneshot::channel();
    rt::spawn(async move {
        let plan = TxPlan {
            hold: Some((spawned_tx, hold)),
            commit: true,
            ..TxPlan::default()
        };
        let id = D::spawn_with(&pool, &early, plan).await;
        let _ = committed_tx.send(id);
    });
    let early = spawned.await.unwrap();

    let events: Log<String> = Log::default();
    let (gate_tx, gate) = async_channel_gate();
    let log = events.clone();
    let _runner = JobRunnerOptions::new(db.src(), move |mut job| {
        let (log, gate) = (log.clone(), gate.clone());
        rt::spawn(async move {
            log.push(format!("start {}", job.name()));
            if job.name() == "late" {
                gate.wait().await;
            }
            log.push(format!("end {}", job.name()));
            job.complete().await.unwrap();
        });
    })
    .run()
    .await
    .unwrap();
    let mut late = JobBuilder::new("late");
    late.set_channel_name("o").set_ordered(true);
    let late = late.spawn(db.ex()).await.unwrap();
    events.wait_len(1).await;
    assert_eq!(events.items(), ["start late"]);
    // The early job's transaction commits while the late one runs.
    release.send(()).unwrap();
    assert_eq!(committed.await.unwrap(), early);
    assert_eq!(db.state(early).await, Some(JobState::Blocked));
    // A sentinel shows the runner claiming meanwhile.
    let sentinel = JobBuilder::new("sentinel").spawn(db.ex()).await.unwrap();
    db.wait_gone(sentinel).await;
    assert_eq!(db.state(early).await, Some(JobState::Blocked));
    gate_tx.open();
    db.wait_gone(late).await;
    db.wait_gone(early).await;
    let events: Vec<String> = events
        .items()
        .into_iter()
        .filter(|e| !e.ends_with("sentinel"))
        .collect();
    assert_eq!(
        events,
        ["start late", "end late", "start early", "end early"]
    );
}

/// An ordered job spawned in a REPEATABLE READ transaction, which cannot
/// settle its channel as it commits, is settled by the runners it notifies
/// (or by `job_schedule` with `settle_ordered`).
pub async fn repeatable_read_spawns_are_settled_by_runners<D: Driver>(db: &Db<D>) {
    let spawn_rr = |name: &'static str| {
        let mut b = JobBuilder::new(name);
        b.set_channel_name(name).set_ordered(true);
        let pool = db.pool.clone();
        async move {
            let plan = TxPlan {
                first: Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"),
                commit: true,
                ..TxPlan::default()
            };
            D::spawn_with(&pool, &b, plan).await
        }
    };
    let first = spawn_rr("first").await;
    assert_eq!(db.state(first).await, Some(JobState::Blocked));
    let settled = db
        .backend()
        .job_schedule(mq_core::backend::JobScheduleParams {
            now: None,
            settle_ordered: true,
            due_after: None,
        })
        .await
        .unwrap();
    assert_eq!(settled.unblocked, 1);
    assert_eq!(db.state(first).await, Some(JobState::Ready));

    let (_runner, log) = recording_runner(db, |_| {}, |job| job.id()).await;
    db.wait_gone(first).await;
    let started = Instant::now();
    let second = spawn_rr("second").await;
    db.wait_gone(second).await;
    // Well before the runners' own settling every 30 s: the notification.
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(log.items(), [first, second]);
}

/// A gate that jobs wait on until the test opens it.
fn async_channel_gate() -> (GateOpener, Gate) {
    let (tx, rx) = oneshot::channel::<()>();
    (GateOpener(tx), Gate(rx.shared()))
}

use futures::FutureExt;
use futures::future::Shared;

struct GateOpener(oneshot::Sender<()>);

impl GateOpener {
    fn open(self) {
        let _ = self.0.send(());
    }
}

#[derive(Clone)]
struct Gate(Shared<oneshot::Receiver<()>>);

impl Gate {
    async fn wait(&self) {
        let _ = self.0.clone().await;
    }
}

/// A small seeded generator for the fleet test (splitmix64).
struct Seeded(u64);

impl Seeded {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Several runners at once, started and stopped at random while jobs are
/// spawned at random (ordered and not, over a few channels): every job
/// runs exactly once, every completion succeeds, and each ordered
/// channel's jobs run one at a time in spawn order. The seed is
/// `MQ_MODEL_SEED` (random by default, printed on failure).
pub async fn a_fleet_started_and_stopped_at_random_runs_each_job_once_in_order<D: Driver>(
    db: &Db<D>,
) {
    let seed = std::env::var("MQ_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let mut rng = Seeded(seed);
    // (job, event): "start" or "end", in the order they happened.
    let events: Log<(Uuid, &'static str)> = Log::default();
    let errors: Log<String> = Log::default();
    let start = |concurrency: usize| {
        let (log, sink) = (events.clone(), errors.clone());
        let mut options = JobRunnerOptions::new(db.src(), move |mut job| {
            let (log, sink) = (log.clone(), sink.clone());
            rt::spawn(async move {
                log.push((job.id(), "start"));
                rt::sleep(Duration::from_millis(1)).await;
                log.push((job.id(), "end"));
                if let Err(error) = job.complete().await {
                    sink.push(format!("{}: {error}", job.id()));
                }
            });
        });
        options.set_concurrency(concurrency, concurrency);
        async move { options.run().await.unwrap() }
    };
    let mut runners: Vec<Option<mq::JobRunnerHandle>> = (0..3).map(|_| None).collect();
    let mut spawned: Vec<(Uuid, String, bool)> = Vec::new();
    for _ in 0..40 {
        match rng.below(4) {
            0 | 1 => {
                let builders: Vec<JobBuilder> = (0..1 + rng.below(8))
                    .map(|_| {
                        let mut b = JobBuilder::new("j");
                        b.set_channel_name(format!("c{}", rng.below(3)))
                            .set_ordered(rng.below(2) == 0);
                        b
                    })
                    .collect();
                let ids = mq::spawn_many(db.ex(), &builders).await.unwrap();
                for (id, b) in ids.into_iter().zip(&builders) {
                    spawned.push((id, b.job().channel_name.clone(), b.job().ordered));
                }
            }
            2 => {
                let slot = rng.below(3) as usize;
                if runners[slot].is_none() {
                    runners[slot] = Some(start(1 + rng.below(8) as usize).await);
                }
            }
            _ => {
                if let Some(mut runner) = runners[rng.below(3) as usize].take() {
                    runner.stop().await;
                    assert!(runner.wait_jobs_finish(PATIENCE).await);
                }
            }
        }
        rt::sleep(Duration::from_millis(rng.below(5))).await;
    }
    for mut runner in runners.into_iter().flatten() {
        runner.stop().await;
        assert!(runner.wait_jobs_finish(PATIENCE).await);
    }
    // One more runner, started once the others stopped, for the rest.
    let mut last = start(8).await;
    wait_for("every job to run", || async {
        db.count("SELECT count(*) FROM mq_jobs").await == 0
    })
    .await;
    last.stop().await;
    assert!(last.wait_jobs_finish(PATIENCE).await);
    let context = format!("(MQ_MODEL_SEED={seed})");
    assert_eq!(errors.items(), Vec::<String>::new(), "{context}");
    let events = events.items();
    let ran_by_fleet: std::collections::HashMap<Uuid, usize> =
        events
            .iter()
            .fold(Default::default(), |mut counts, (id, e)| {
                if *e == "start" {
                    *counts.entry(*id).or_default() += 1;
                }
                counts
            });
    assert!(
        ran_by_fleet.values().all(|&n| n == 1) && ran_by_fleet.len() == spawned.len(),
        "{} of {} jobs ran, some more than once {context}",
        ran_by_fleet.len(),
        spawned.len()
    );
    // Ordered channels: runs never overlap, and follow spawn order.
    for channel in ["c0", "c1", "c2"] {
        let ordered: Vec<Uuid> = spawned
            .iter()
            .filter(|(_, c, o)| c == channel && *o)
            .map(|(id, _, _)| *id)
            .collect();
        let seen: Vec<(Uuid, &str)> = events
            .iter()
            .filter(|(id, _)| ordered.contains(id))
            .copied()
            .collect();
        let mut open: Option<Uuid> = None;
        let mut started = Vec::new();
        for (id, event) in seen {
            match event {
                "start" => {
                    assert_eq!(
                        open, None,
                        "{channel}: two ordered jobs ran at once {context}"
                    );
                    open = Some(id);
                    started.push(id);
                }
                _ => open = None,
            }
        }
        assert_eq!(
            started, ordered,
            "{channel}: ordered jobs ran out of order {context}"
        );
    }
}
