//! Conformance cases of `Backend::schedule_declare`: storing schedules,
//! taking and renewing their leases, and pruning the undeclared.

use super::*;
use crate::backend::{
    DeclaredSchedule, ScheduleDeclareParams, ScheduleDeclared, ScheduleInfo, ScheduleListParams,
};

/// How long the cases' leases last.
pub(super) const SCHEDULE_LEASE: Duration = Duration::from_secs(10);

/// A schedule as the cases declare it: every minute, first due at `first_due`.
pub(super) fn declared(name: &str, first_due: Option<OffsetDateTime>) -> DeclaredSchedule {
    DeclaredSchedule {
        name: name.to_owned(),
        job_name: format!("{name}_job"),
        expression: "0 * * * * *".to_owned(),
        time_zone: None,
        missed: "run latest".to_owned(),
        first_due: first_due.expect("a time"),
        defined_at: None,
    }
}

/// Declares `schedules` for `runner` at `now`, pruning after an hour.
pub(super) async fn declare(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    runner: Uuid,
    schedules: &[DeclaredSchedule],
) -> ScheduleDeclared {
    declare_pruning(backend, now, runner, schedules, Duration::from_secs(3600)).await
}

async fn declare_pruning(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    runner: Uuid,
    schedules: &[DeclaredSchedule],
    prune_after: Duration,
) -> ScheduleDeclared {
    backend
        .schedule_declare(ScheduleDeclareParams {
            runner,
            schedules,
            lease: SCHEDULE_LEASE,
            prune_after,
            now,
        })
        .await
        .expect("schedule_declare")
}

/// The stored schedules, as listed at `now`.
pub(super) async fn schedules(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
) -> Vec<ScheduleInfo> {
    backend
        .schedule_list(ScheduleListParams { now })
        .await
        .expect("schedule_list")
}

fn leading(declared: &ScheduleDeclared) -> Vec<bool> {
    declared.schedules.iter().map(|s| s.leading).collect()
}

/// The first runner to declare a schedule leads it; another declaring it
/// does not, while the leader renews its lease; once the lease lapses, the
/// next runner to declare takes it over.
pub async fn takes_free_leases_and_renews_its_own(backend: &dyn Backend) {
    let t = Clock::new();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let s = [declared("s", t.at(60.0))];
    let first = declare(backend, t.at(0.0), a, &s).await;
    assert_eq!(leading(&first), vec![true]);
    assert_eq!(first.now, t.at(0.0).unwrap());
    assert_eq!(first.schedules[0].next_run_at, t.at(60.0).unwrap());
    assert_eq!(first.schedules[0].leader_until, t.at(10.0));

    assert_eq!(
        leading(&declare(backend, t.at(1.0), b, &s).await),
        vec![false]
    );
    // A renews before its lease ends: B still does not lead after the
    // first lease would have ended.
    let renewed = declare(backend, t.at(8.0), a, &s).await;
    assert_eq!(leading(&renewed), vec![true]);
    assert_eq!(renewed.schedules[0].leader_until, t.at(18.0));
    assert_eq!(
        leading(&declare(backend, t.at(12.0), b, &s).await),
        vec![false]
    );
    // A stops renewing: B takes over once the lease ends, and A no longer
    // leads when it comes back.
    assert_eq!(
        leading(&declare(backend, t.at(18.5), b, &s).await),
        vec![true]
    );
    assert_eq!(
        leading(&declare(backend, t.at(19.0), a, &s).await),
        vec![false]
    );
    // Declaring changes nobody's due time.
    let listed = schedules(backend, t.at(19.0)).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].next_run_at, t.at(60.0).unwrap());
    assert_eq!(listed[0].leader, Some(b));
}

/// A redeclared schedule keeps its due time, unless its cadence (cron
/// expression or time zone) changed: then it is due at the new first due
/// time. Its other fields follow the latest declaration.
pub async fn a_changed_cadence_starts_again(backend: &dyn Backend) {
    let t = Clock::new();
    let a = Uuid::now_v7();
    declare(backend, t.at(0.0), a, &[declared("s", t.at(60.0))]).await;
    let mut same = declared("s", t.at(120.0));
    same.job_name = "renamed".to_owned();
    same.missed = "skip".to_owned();
    let kept = declare(backend, t.at(1.0), a, &[same.clone()]).await;
    assert_eq!(kept.schedules[0].next_run_at, t.at(60.0).unwrap());
    let listed = schedules(backend, t.at(1.0)).await;
    assert_eq!(
        (listed[0].job_name.as_str(), listed[0].missed.as_str()),
        ("renamed", "skip")
    );

    let mut faster = same.clone();
    faster.expression = "*/10 * * * * *".to_owned();
    faster.first_due = t.at(10.0).unwrap();
    let moved = declare(backend, t.at(2.0), a, &[faster.clone()]).await;
    assert_eq!(moved.schedules[0].next_run_at, t.at(10.0).unwrap());

    let mut zoned = faster;
    zoned.time_zone = Some("Europe/Paris".to_owned());
    zoned.first_due = t.at(20.0).unwrap();
    let moved = declare(backend, t.at(3.0), a, &[zoned]).await;
    assert_eq!(moved.schedules[0].next_run_at, t.at(20.0).unwrap());
    let listed = schedules(backend, t.at(3.0)).await;
    assert_eq!(listed[0].expression, "*/10 * * * * *");
    assert_eq!(listed[0].time_zone.as_deref(), Some("Europe/Paris"));
}

/// Two versions of a schedule declared side by side (a rolling deploy):
/// the newer definition is stored and led, whatever the order of the
/// declarations; the older one changes neither it nor its due time, and
/// its runner loses the lease to the newer one's and takes none, even a
/// lapsed one. Once no runner has declared the newer definition for a lease, the
/// older one is taken up again (the new version was rolled back); and a
/// runner that begins to declare the older one later makes it the newest.
pub async fn the_newest_definition_wins(backend: &dyn Backend) {
    let t = Clock::new();
    let (old, new, late) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let v1 = declared("s", t.at(60.0));
    let mut v2 = declared("s", t.at(30.0));
    v2.expression = "*/30 * * * * *".to_owned();

    // The old runner leads v1, defined at its first declaration.
    let first = declare(backend, t.at(0.0), old, std::slice::from_ref(&v1)).await;
    assert_eq!(leading(&first), vec![true]);
    let v1 = DeclaredSchedule {
        defined_at: Some(first.now),
        ..v1
    };

    // v2 comes with its own runner: it is stored, due at its first tick,
    // and its runner takes the lease from the old one at once.
    let second = declare(backend, t.at(1.0), new, std::slice::from_ref(&v2)).await;
    assert_eq!(leading(&second), vec![true]);
    assert_eq!(second.schedules[0].next_run_at, t.at(30.0).unwrap());
    let v2 = DeclaredSchedule {
        defined_at: Some(second.now),
        ..v2
    };
    let listed = schedules(backend, t.at(1.0)).await;
    assert_eq!(listed[0].defined_at, Some(second.now), "v2 in force");

    // A second runner of v2 declares it too (it does not lead).
    let other_new = Uuid::now_v7();
    let joined = declare(backend, t.at(8.0), other_new, std::slice::from_ref(&v2)).await;
    assert_eq!(leading(&joined), vec![false]);

    // The old runner's renewals change nothing, and it does not lead,
    // not even once the new runner's lease has lapsed (at 11), as long as
    // v2 is declared.
    for at in [2.0, 12.0] {
        let renewed = declare(backend, t.at(at), old, std::slice::from_ref(&v1)).await;
        assert_eq!(leading(&renewed), vec![false], "at {at}");
        assert_eq!(renewed.schedules[0].next_run_at, t.at(30.0).unwrap());
        let listed = schedules(backend, t.at(at)).await;
        assert_eq!(listed[0].expression, "*/30 * * * * *", "at {at}");
        assert_eq!(listed[0].next_run_at, t.at(30.0).unwrap());
        assert_eq!(listed[0].defined_at, Some(second.now), "at {at}");
    }
    // The second runner of v2 takes the lapsed lease.
    let taken = declare(backend, t.at(12.5), other_new, std::slice::from_ref(&v2)).await;
    assert_eq!(leading(&taken), vec![true]);
    // The old runner gets the lease back only after v2 was not declared
    // for a lease (10 s, since 12.5): then v1 is taken up again, due at
    // its first tick.
    let v1_back = DeclaredSchedule {
        first_due: t.at(120.0).unwrap(),
        ..v1.clone()
    };
    let still = declare(backend, t.at(22.0), old, std::slice::from_ref(&v1_back)).await;
    assert_eq!(leading(&still), vec![false]);
    let back = declare(backend, t.at(23.0), old, std::slice::from_ref(&v1_back)).await;
    assert_eq!(leading(&back), vec![true]);
    assert_eq!(back.schedules[0].next_run_at, t.at(120.0).unwrap());
    let listed = schedules(backend, t.at(23.0)).await;
    assert_eq!(listed[0].expression, "0 * * * * *");
    assert_eq!(listed[0].leader, Some(old));
    // Taken up again with the time its runner began to declare it.
    assert_eq!(listed[0].defined_at, Some(first.now));

    // v2's runners come back: v2 is newer than the v1 taken up again, so
    // it wins again. Then a runner that begins to declare v1 now (a
    // rollback) makes v1 the newest, and v2's runners step aside.
    let again = declare(backend, t.at(24.0), new, std::slice::from_ref(&v2)).await;
    assert_eq!(leading(&again), vec![true]);
    let rolled_back = declare(backend, t.at(25.0), late, &[declared("s", t.at(60.0))]).await;
    assert_eq!(leading(&rolled_back), vec![true]);
    let stepped_aside = declare(backend, t.at(26.0), new, &[v2]).await;
    assert_eq!(leading(&stepped_aside), vec![false]);
    let listed = schedules(backend, t.at(26.0)).await;
    assert_eq!(listed[0].expression, "0 * * * * *");
    assert_eq!(listed[0].leader, Some(late));
    assert_eq!(listed[0].next_run_at, t.at(60.0).unwrap());
    assert_eq!(listed[0].defined_at, Some(rolled_back.now));
}

/// Several schedules in one declaration come back in the order given,
/// each led by whoever held it.
pub async fn declares_many_at_once(backend: &dyn Backend) {
    let t = Clock::new();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    declare(backend, t.at(0.0), a, &[declared("m", t.at(60.0))]).await;
    let both = [declared("z", t.at(30.0)), declared("m", t.at(90.0))];
    let result = declare(backend, t.at(1.0), b, &both).await;
    let names: Vec<&str> = result.schedules.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["z", "m"]);
    assert_eq!(leading(&result), vec![true, false]);
    assert_eq!(result.schedules[1].next_run_at, t.at(60.0).unwrap());
}

/// Schedules no runner declared for the prune period are deleted by the
/// next declaration, even one that declares nothing; declared ones stay.
pub async fn prunes_schedules_no_one_declares(backend: &dyn Backend) {
    let t = Clock::new();
    let a = Uuid::now_v7();
    let prune = Duration::from_secs(50);
    declare(
        backend,
        t.at(0.0),
        a,
        &[declared("old", t.at(60.0)), declared("kept", t.at(60.0))],
    )
    .await;
    declare_pruning(
        backend,
        t.at(40.0),
        a,
        &[declared("kept", t.at(100.0))],
        prune,
    )
    .await;
    let names = |list: Vec<ScheduleInfo>| list.into_iter().map(|s| s.name).collect::<Vec<_>>();
    assert_eq!(
        names(schedules(backend, t.at(40.0)).await),
        vec!["kept", "old"]
    );
    declare_pruning(
        backend,
        t.at(60.0),
        a,
        &[declared("kept", t.at(100.0))],
        prune,
    )
    .await;
    assert_eq!(names(schedules(backend, t.at(60.0)).await), vec!["kept"]);
    declare_pruning(backend, t.at(200.0), Uuid::now_v7(), &[], prune).await;
    assert!(schedules(backend, t.at(200.0)).await.is_empty());
}

/// One step of [`random_declarations_keep_the_newest_definition`].
#[derive(Clone, Debug)]
enum DefinitionStep {
    /// Runner `.0` declares version `.1` of the schedule (a new version
    /// for that runner begins its definition anew).
    Declare(u8, u8),
    /// Runner `.0` restarts: its next declaration begins its definition
    /// anew, as a new process's first does.
    Restart(u8),
    /// Seconds pass.
    Advance(u8),
}

fn definition_steps() -> impl proptest::strategy::Strategy<Value = Vec<DefinitionStep>> {
    use proptest::prelude::*;
    let step = prop_oneof![
        6 => (0u8..3, 0u8..2).prop_map(|(r, v)| DefinitionStep::Declare(r, v)),
        1 => (0u8..3).prop_map(DefinitionStep::Restart),
        3 => (0u8..12).prop_map(DefinitionStep::Advance),
    ];
    proptest::collection::vec(step, 1..40)
}

/// The cron expression of version `v` of the generated schedule.
fn version_expression(v: u8) -> String {
    format!("{} * * * * *", 10 + v)
}

/// What the test expects the backend to hold, from the rule stated on
/// [`Backend::schedule_declare`], not from the backend. Times in seconds
/// from the case's base.
#[derive(Default)]
struct DefinitionAccount {
    now: u64,
    /// The version in force, when it was defined, when it was last
    /// declared, and the due time.
    stored: Option<(u8, u64, u64, u64)>,
    /// The lease: runner, and until when.
    lease: Option<(u8, u64)>,
    /// Each runner's version and when it began declaring it (`None`:
    /// with its next declaration).
    runners: [Option<(u8, Option<u64>)>; 3],
}

impl DefinitionAccount {
    /// Runner `r` declares version `v`; returns whether it then leads.
    fn declare(&mut self, r: u8, v: u8, lease: u64) -> bool {
        let now = self.now;
        let began = match self.runners[r as usize] {
            Some((version, began)) if version == v => began,
            _ => None,
        };
        let defined = began.unwrap_or(now);
        self.runners[r as usize] = Some((v, Some(defined)));
        let first_due = now + 1 + u64::from(v);
        let lease_free = self
            .lease
            .is_none_or(|(holder, until)| holder == r || until <= now);
        match self.stored {
            None => {
                self.stored = Some((v, defined, now, first_due));
                self.lease = Some((r, now + lease));
            }
            Some((version, defined_at, declared_at, due)) => {
                let differs = version != v;
                let outdated = differs && defined < defined_at && declared_at + lease > now;
                if !outdated {
                    let (defined_at, due) = if differs {
                        (defined, first_due)
                    } else {
                        (defined_at.max(defined), due)
                    };
                    self.stored = Some((v, defined_at, now, due));
                    if differs || lease_free {
                        self.lease = Some((r, now + lease));
                    }
                }
            }
        }
        self.lease
            .is_some_and(|(holder, until)| holder == r && until > now)
    }
}

/// Runs one generated sequence against the backend and the account.
async fn check_definition_steps(
    backend: &dyn Backend,
    base: Clock,
    steps: Vec<DefinitionStep>,
) -> std::result::Result<(), super::model::Failure> {
    let runners: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
    let name = format!("d{}", base.0.unix_timestamp());
    let lease = SCHEDULE_LEASE.as_secs();
    let at = |secs: u64| base.at(secs as f64).expect("a time");
    let mut account = DefinitionAccount::default();
    let mut log = String::new();
    for step in steps {
        let now = account.now;
        log.push_str(&format!("{now:>4}s {step:?}\n"));
        match step {
            DefinitionStep::Declare(r, v) => {
                let defined_at = match account.runners[r as usize] {
                    Some((version, began)) if version == v => began.map(at),
                    _ => None,
                };
                let schedule = DeclaredSchedule {
                    expression: version_expression(v),
                    first_due: at(now + 1 + u64::from(v)),
                    defined_at,
                    ..declared(&name, Some(at(0)))
                };
                let result =
                    declare(backend, Some(at(now)), runners[r as usize], &[schedule]).await;
                let leads = account.declare(r, v, lease);
                let (version, _, _, due) = account.stored.expect("declared");
                let got = &result.schedules[0];
                let listed = schedules(backend, Some(at(now))).await;
                let stored = listed.iter().find(|s| s.name == name).expect("declared");
                let expected = (leads, at(due), version_expression(version));
                let actual = (got.leading, got.next_run_at, stored.expression.clone());
                if actual != expected {
                    return Err((
                        format!(
                            "runner {r}: (leading, due, expression) {actual:?}, expected {expected:?}"
                        ),
                        log,
                    ));
                }
            }
            DefinitionStep::Restart(r) => {
                if let Some((_, began)) = &mut account.runners[r as usize] {
                    *began = None;
                }
            }
            DefinitionStep::Advance(secs) => account.now += u64::from(secs),
        }
    }
    Ok(())
}

/// Generated sequences of three runners declaring two versions of one
/// schedule, restarting and letting time pass: after every declaration,
/// whether the runner leads, the due time and the definition in force are
/// what the rule of the newest definition says.
pub async fn random_declarations_keep_the_newest_definition(backend: &dyn Backend) {
    super::model::explore(16, definition_steps(), |base, steps| {
        Box::pin(check_definition_steps(backend, base, steps))
    })
    .await;
}

/// Found by [`random_declarations_keep_the_newest_definition`] against a
/// statement that kept the newer time when an older definition was taken
/// up again: that definition must keep its own, older time, so that a
/// runner which began declaring the other version before that time (but
/// after the older definition's) is newer, and wins.
pub async fn an_older_definition_taken_up_again_keeps_its_time(backend: &dyn Backend) {
    use DefinitionStep::{Advance, Declare};
    let steps = vec![
        Declare(0, 1),
        Declare(1, 0),
        Advance(1),
        Declare(2, 1),
        Advance(10),
        Declare(1, 0),
        Declare(0, 1),
    ];
    if let Err((failure, log)) = check_definition_steps(backend, Clock::new(), steps).await {
        panic!("{failure}\n{log}");
    }
}
