//! Conformance cases of `Backend::schedule_fire`: spawning a tick's jobs
//! once, and only by the schedule's leader.

use super::schedule_declare::{declare, declared, schedules};
use std::collections::BTreeSet;

use super::*;
use crate::backend::ScheduleFireParams;

#[allow(clippy::too_many_arguments)]
async fn fire(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    runner: Uuid,
    name: &str,
    due: Option<OffsetDateTime>,
    next_run_at: Option<OffsetDateTime>,
    jobs: &[&JobBuilder],
) -> crate::Result<Option<Vec<Spawned>>> {
    let jobs: Vec<_> = jobs.iter().map(|b| b.job()).collect();
    backend
        .schedule_fire(ScheduleFireParams {
            runner,
            name,
            due: due.expect("a time"),
            next_run_at: next_run_at.expect("a time"),
            jobs: &jobs,
            last_tick: due,
            now,
        })
        .await
}

fn tick_job(key: &str) -> JobBuilder {
    let mut builder = job("tick", "periodic");
    builder.set_unique_key(key);
    builder
}

/// The leader fires a due schedule: the jobs are in, the due time moved
/// on and the tick recorded. Firing the same due time again (a second
/// leader that read it before) inserts nothing.
pub async fn fires_each_due_time_once(backend: &dyn Backend) {
    let t = Clock::new();
    let a = Uuid::now_v7();
    declare(backend, t.at(0.0), a, &[declared("s", t.at(1.0))]).await;
    let first = tick_job("s@1");
    let fired = fire(backend, t.at(1.5), a, "s", t.at(1.0), t.at(2.0), &[&first]).await;
    assert_eq!(
        fired.expect("fired"),
        Some(vec![Spawned::Inserted(first.id())])
    );
    assert_eq!(state(backend, first.id()).await, Some(JobState::Ready));

    let again = tick_job("s@1-again");
    let fired = fire(backend, t.at(1.6), a, "s", t.at(1.0), t.at(2.0), &[&again]).await;
    assert_eq!(fired.expect("no error"), None);
    assert_eq!(state(backend, again.id()).await, None);

    let listed = schedules(backend, t.at(1.6)).await;
    assert_eq!(listed[0].next_run_at, t.at(2.0).unwrap());
    assert_eq!(listed[0].last_run_at, t.at(1.0));
    assert_eq!(listed[0].last_job, Some(first.id()));

    // Several ticks at once (a late leader), then the next due time.
    let (j2, j3) = (tick_job("s@2"), tick_job("s@3"));
    let fired = fire(
        backend,
        t.at(3.2),
        a,
        "s",
        t.at(2.0),
        t.at(4.0),
        &[&j2, &j3],
    )
    .await;
    assert_eq!(
        fired.expect("fired"),
        Some(vec![Spawned::Inserted(j2.id()), Spawned::Inserted(j3.id())])
    );
    assert_eq!(
        schedules(backend, t.at(3.2)).await[0].last_job,
        Some(j3.id())
    );
}

/// A runner that does not hold the lease fires nothing, nor does one whose
/// lease lapsed, even with the right due time.
pub async fn only_the_leader_fires(backend: &dyn Backend) {
    let t = Clock::new();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    declare(backend, t.at(0.0), a, &[declared("s", t.at(1.0))]).await;
    declare(backend, t.at(0.0), b, &[declared("s", t.at(1.0))]).await;
    let by_b = tick_job("s@1");
    let fired = fire(backend, t.at(1.0), b, "s", t.at(1.0), t.at(2.0), &[&by_b]).await;
    assert_eq!(fired.expect("no error"), None);
    // A's lease (10 s from 0) is over at 11.
    let late = tick_job("s@1");
    let fired = fire(backend, t.at(11.0), a, "s", t.at(1.0), t.at(2.0), &[&late]).await;
    assert_eq!(fired.expect("no error"), None);
    assert_eq!(state(backend, by_b.id()).await, None);
    assert_eq!(state(backend, late.id()).await, None);
    assert_eq!(
        schedules(backend, t.at(11.0)).await[0].next_run_at,
        t.at(1.0).unwrap()
    );
    // Nor does anyone fire a schedule that is not stored.
    let fired = fire(backend, t.at(1.0), a, "none", t.at(1.0), t.at(2.0), &[]).await;
    assert_eq!(fired.expect("no error"), None);
}

/// A tick whose job still holds the tick's key (spawned by hand, say) is
/// a duplicate: the schedule moves on and records that job.
pub async fn a_tick_spawned_already_is_a_duplicate(backend: &dyn Backend) {
    let t = Clock::new();
    let a = Uuid::now_v7();
    let by_hand = tick_job("s@1");
    insert(backend, t.at(0.0), &[&by_hand]).await;
    declare(backend, t.at(0.0), a, &[declared("s", t.at(1.0))]).await;
    let tick = tick_job("s@1");
    let fired = fire(backend, t.at(1.0), a, "s", t.at(1.0), t.at(2.0), &[&tick]).await;
    assert_eq!(
        fired.expect("fired"),
        Some(vec![Spawned::Duplicate(by_hand.id())])
    );
    let listed = schedules(backend, t.at(1.0)).await;
    assert_eq!(listed[0].next_run_at, t.at(2.0).unwrap());
    assert_eq!(listed[0].last_job, Some(by_hand.id()));
}

/// A firing whose insert fails changes nothing: the schedule is still
/// due, for the next try.
pub async fn a_failed_insert_fires_nothing(backend: &dyn Backend) {
    let t = Clock::new();
    let a = Uuid::now_v7();
    let existing = job("other", "c");
    insert(backend, t.at(0.0), &[&existing]).await;
    declare(backend, t.at(0.0), a, &[declared("s", t.at(1.0))]).await;
    let clash = JobBuilder::new_with_id(existing.id(), "tick");
    let fresh = tick_job("s@1");
    let fired = fire(
        backend,
        t.at(1.0),
        a,
        "s",
        t.at(1.0),
        t.at(2.0),
        &[&fresh, &clash],
    )
    .await;
    assert!(fired.is_err(), "a duplicate id fails the insert: {fired:?}");
    assert_eq!(state(backend, fresh.id()).await, None);
    let listed = schedules(backend, t.at(1.0)).await;
    assert_eq!(listed[0].next_run_at, t.at(1.0).unwrap());
    assert_eq!(listed[0].last_run_at, None);
}

/// One step of a generated schedule sequence, among three runners.
#[derive(Clone, Debug)]
enum Step {
    /// A runner declares the schedule (renewing or taking its lease).
    Declare(u8),
    /// A runner fires the `n` ticks from the due time it last read.
    Fire(u8, u8),
    /// A runner fires again what it fired last, as one would that never
    /// heard that its firing committed (its connection dropped).
    Replay(u8),
    /// A runner gives its lease up.
    Release(u8),
    /// The clock moves on this many seconds.
    Advance(u8),
}

fn steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
    use proptest::prelude::*;
    let step = prop_oneof![
        3 => (0u8..3).prop_map(Step::Declare),
        4 => (0u8..3, 1u8..4).prop_map(|(r, n)| Step::Fire(r, n)),
        1 => (0u8..3).prop_map(Step::Replay),
        1 => (0u8..3).prop_map(Step::Release),
        2 => (0u8..15).prop_map(Step::Advance),
    ];
    proptest::collection::vec(step, 1..40)
}

/// The test's own account of the schedule: what it expects the backend
/// to hold, from what it did, not from the backend.
#[derive(Default)]
struct Account {
    now: u64,
    /// The stored due time, in seconds from the base.
    due: Option<u64>,
    /// The lease: runner, and until when.
    lease: Option<(u8, u64)>,
    /// Each runner's due time as it last read or left it.
    seen: [Option<u64>; 3],
    /// Each runner's last firing: its due time and tick count.
    last_fired: [Option<(u64, u8)>; 3],
    fired: BTreeSet<u64>,
}

/// Runner `r` fires `n` ticks from `due`; checks the outcome against the
/// account, and updates it.
#[allow(clippy::too_many_arguments)]
async fn fire_ticks(
    backend: &dyn Backend,
    account: &mut Account,
    runners: &[Uuid],
    name: &str,
    base: Clock,
    r: u8,
    due: u64,
    n: u8,
) -> std::result::Result<(), String> {
    let at = |secs: u64| base.at(secs as f64);
    let ticks: Vec<u64> = (due..due + u64::from(n)).collect();
    let builders: Vec<JobBuilder> = ticks
        .iter()
        .map(|t| tick_job(&format!("{name}@{t}")))
        .collect();
    let refs: Vec<&JobBuilder> = builders.iter().collect();
    let now = account.now;
    let fired = fire(
        backend,
        at(now),
        runners[r as usize],
        name,
        at(due),
        at(due + u64::from(n)),
        &refs,
    )
    .await
    .map_err(|e| format!("schedule_fire: {e}"))?;
    let leads = account
        .lease
        .is_some_and(|(holder, until)| holder == r && until > now);
    let expected = leads && account.due == Some(due);
    if fired.is_some() != expected {
        return Err(format!(
            "runner {r} fired: {} (expected {expected})",
            fired.is_some()
        ));
    }
    if let Some(spawned) = fired {
        for (tick, outcome) in ticks.iter().zip(&spawned) {
            if !account.fired.insert(*tick) {
                return Err(format!("tick {tick} fired twice"));
            }
            if !outcome.is_inserted() {
                return Err(format!("tick {tick}: {outcome:?}"));
            }
        }
        account.due = Some(due + u64::from(n));
        account.seen[r as usize] = account.due;
    }
    Ok(())
}

/// Runs one generated sequence against the backend and the account.
async fn check_steps(
    backend: &dyn Backend,
    base: Clock,
    steps: Vec<Step>,
) -> std::result::Result<(), super::model::Failure> {
    let runners: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    let name = format!("s{}", base.0.unix_timestamp());
    let lease = super::schedule_declare::SCHEDULE_LEASE.as_secs();
    let at = |secs: u64| base.at(secs as f64);
    let mut account = Account::default();
    let mut log = String::new();
    macro_rules! ensure {
        ($cond:expr, $($msg:tt)+) => {
            if !$cond {
                return Err((format!($($msg)+), log));
            }
        };
    }
    for step in steps {
        let now = account.now;
        log.push_str(&format!("{now:>4}s {step:?}\n"));
        match step {
            Step::Declare(r) => {
                let mut schedule = declared(&name, at(now + 1));
                schedule.job_name = "tick".to_owned();
                let result = declare(backend, at(now), runners[r as usize], &[schedule]).await;
                let due = *account.due.get_or_insert(now + 1);
                if account
                    .lease
                    .is_none_or(|(holder, until)| holder == r || until <= now)
                {
                    account.lease = Some((r, now + lease));
                }
                let leads = account.lease.map(|(holder, _)| holder) == Some(r);
                let got = &result.schedules[0];
                ensure!(
                    got.leading == leads,
                    "runner {r} leading: {} (expected {leads})",
                    got.leading
                );
                ensure!(
                    got.next_run_at == at(due).unwrap(),
                    "due {:?}, expected {due}",
                    got.next_run_at
                );
                account.seen[r as usize] = Some(due);
            }
            Step::Fire(r, n) => {
                let Some(due) = account.seen[r as usize] else {
                    continue;
                };
                account.last_fired[r as usize] = Some((due, n));
                fire_ticks(backend, &mut account, &runners, &name, base, r, due, n)
                    .await
                    .map_err(|e| (e, log.clone()))?;
            }
            Step::Replay(r) => {
                let Some((due, n)) = account.last_fired[r as usize] else {
                    continue;
                };
                fire_ticks(backend, &mut account, &runners, &name, base, r, due, n)
                    .await
                    .map_err(|e| (e, log.clone()))?;
            }
            Step::Release(r) => {
                backend
                    .schedule_release(crate::backend::ScheduleReleaseParams {
                        runner: runners[r as usize],
                        names: None,
                    })
                    .await
                    .map_err(|e| (format!("schedule_release: {e}"), log.clone()))?;
                if account.lease.is_some_and(|(holder, _)| holder == r) {
                    account.lease = None;
                }
            }
            Step::Advance(secs) => account.now += u64::from(secs),
        }
    }
    if let Some(due) = account.due {
        let listed = schedules(backend, at(account.now)).await;
        let stored = listed.iter().find(|s| s.name == name).expect("declared");
        ensure!(
            stored.next_run_at == at(due).unwrap(),
            "stored due {:?}, expected {due}",
            stored.next_run_at
        );
        let leader = account
            .lease
            .filter(|(_, until)| *until > account.now)
            .map(|(holder, _)| runners[holder as usize]);
        ensure!(
            stored.leader == leader,
            "leader {:?}, expected {leader:?}",
            stored.leader
        );
    }
    Ok(())
}

/// Generated sequences of declarations, firings (with stale views of the
/// due time, by runners that lead or not), releases and time passing:
/// only the runner the test expects to lead fires, only from the current
/// due time, and no tick is ever fired twice.
pub async fn random_firings_spawn_each_tick_once(backend: &dyn Backend) {
    super::model::explore(16, steps(), |base, steps| {
        Box::pin(check_steps(backend, base, steps))
    })
    .await;
}
