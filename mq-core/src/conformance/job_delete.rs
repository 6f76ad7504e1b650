//! Conformance cases of `Backend::job_delete`: deleting jobs.

use super::*;

/// Jobs are deleted in any state; a runner holding one loses its lease.
pub async fn removes_jobs_in_any_state(backend: &dyn Backend) {
    let t = Clock::new();
    let failed = failed_job(backend, t.at(0.0), job("j", "f")).await;
    let running = job("j", "r");
    insert(backend, t.at(0.0), &[&running]).await;
    let held = claim(backend, t.at(0.0), 1).await;
    assert_eq!(ids(&held), vec![running.id()]);
    let ready = job("j", "c");
    let mut scheduled = job("j", "c");
    scheduled.set_delay(Duration::from_secs(60));
    let mut uncommitted = job("j", "c");
    uncommitted.set_commit_interval(Some(Duration::from_secs(60)));
    let keep = job("j", "c");
    insert(
        backend,
        t.at(0.0),
        &[&ready, &scheduled, &uncommitted, &keep],
    )
    .await;

    let doomed = vec![
        failed,
        running.id(),
        ready.id(),
        scheduled.id(),
        uncommitted.id(),
    ];
    let mut asked = doomed.clone();
    asked.push(Uuid::now_v7());
    assert_eq!(
        sorted(delete(backend, &asked).await),
        sorted(doomed.clone())
    );
    for id in &doomed {
        assert_eq!(get(backend, *id).await, None);
    }
    assert!(backend.job_exists(keep.id()).await.unwrap());
    assert!(
        complete(backend, &[held[0].lease()]).await.is_empty(),
        "a deleted job was completed"
    );
    assert_eq!(
        fail(backend, t.at(0.0), held[0].lease(), Duration::ZERO).await,
        JobFailOutcome::LeaseLost
    );
    assert!(delete(backend, &doomed).await.is_empty());
}
