//! Conformance cases of `Backend::schedule_release`: giving leases up.

use super::schedule_declare::{declare, declared, schedules};
use super::*;
use crate::backend::ScheduleReleaseParams;

async fn release(backend: &dyn Backend, runner: Uuid, names: Option<&[String]>) {
    backend
        .schedule_release(ScheduleReleaseParams { runner, names })
        .await
        .expect("schedule_release");
}

/// Released leases are taken over by the next runner to declare, at once;
/// a runner releases only its own.
pub async fn hands_leases_over_at_once(backend: &dyn Backend) {
    let t = Clock::new();
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let both = [declared("s1", t.at(60.0)), declared("s2", t.at(60.0))];
    declare(backend, t.at(0.0), a, &both).await;
    // B releasing changes nothing: it holds nothing.
    release(backend, b, None).await;
    let leading = |d: crate::backend::ScheduleDeclared| -> Vec<bool> {
        d.schedules.iter().map(|s| s.leading).collect()
    };
    assert_eq!(
        leading(declare(backend, t.at(1.0), b, &both).await),
        vec![false, false]
    );

    release(backend, a, Some(&["s1".to_owned()])).await;
    assert_eq!(
        leading(declare(backend, t.at(2.0), b, &both).await),
        vec![true, false]
    );
    release(backend, a, None).await;
    assert_eq!(
        leading(declare(backend, t.at(3.0), b, &both).await),
        vec![true, true]
    );
    let leaders: Vec<_> = schedules(backend, t.at(3.0))
        .await
        .into_iter()
        .map(|s| s.leader)
        .collect();
    assert_eq!(leaders, vec![Some(b), Some(b)]);
}
