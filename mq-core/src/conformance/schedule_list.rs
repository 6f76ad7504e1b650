//! Conformance cases of `Backend::schedule_list`.

use super::schedule_declare::{SCHEDULE_LEASE, declare, declared, schedules};
use super::*;

/// Schedules are listed by name with what was declared; the leader is
/// shown while its lease is current, and none after.
pub async fn lists_schedules_by_name_with_their_leader(backend: &dyn Backend) {
    let t = Clock::new();
    let a = Uuid::now_v7();
    assert!(schedules(backend, t.at(0.0)).await.is_empty());
    let mut zoned = declared("b", t.at(60.0));
    zoned.time_zone = Some("Europe/Paris".to_owned());
    declare(backend, t.at(0.0), a, &[zoned, declared("a", t.at(30.0))]).await;
    let listed = schedules(backend, t.at(1.0)).await;
    let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["a", "b"]);
    let b = &listed[1];
    assert_eq!(b.job_name, "b_job");
    assert_eq!(b.expression, "0 * * * * *");
    assert_eq!(b.time_zone.as_deref(), Some("Europe/Paris"));
    assert_eq!(b.missed, "run latest");
    assert_eq!(b.next_run_at, t.at(60.0).unwrap());
    assert_eq!((b.last_run_at, b.last_job), (None, None));
    assert_eq!(b.leader, Some(a));
    assert_eq!(b.leader_until, t.at(SCHEDULE_LEASE.as_secs_f64()));
    assert_eq!(b.declared_at, t.at(0.0).unwrap());

    let lapsed = schedules(backend, t.at(SCHEDULE_LEASE.as_secs_f64() + 1.0)).await;
    assert!(
        lapsed
            .iter()
            .all(|s| s.leader.is_none() && s.leader_until.is_none())
    );
}
