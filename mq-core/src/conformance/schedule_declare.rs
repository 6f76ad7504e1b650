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
