//! Conformance cases of `Backend::job_prune`: pruning finished jobs.

use super::*;

/// Pruning deletes the failed and completed jobs old enough, and nothing
/// else.
pub async fn deletes_old_failed_and_completed_jobs(backend: &dyn Backend) {
    let t = Clock::new();
    let prune = |states: &'static [JobState], older_than: u64, now| async move {
        backend
            .job_prune(JobPruneParams {
                states,
                older_than: Duration::from_secs(older_than),
                now,
            })
            .await
            .expect("job_prune")
    };
    let old_failure = failed_job(backend, t.at(0.0), job("j", "a")).await;
    let new_failure = failed_job(backend, t.at(100.0), job("j", "b")).await;
    let done = job("j", "c");
    insert(backend, t.at(0.0), &[&done]).await;
    let held = claim(backend, t.at(0.0), 1).await;
    backend
        .job_complete(JobCompleteParams {
            leases: &[held[0].lease()],
            keep_completed: true,
            skip_busy: true,
            now: t.at(0.0),
        })
        .await
        .unwrap();
    let ready = job("j", "d");
    insert(backend, t.at(0.0), &[&ready]).await;

    assert_eq!(prune(&[JobState::Failed], 50, t.at(49.0)).await, 0);
    assert_eq!(prune(&[JobState::Failed], 50, t.at(100.0)).await, 1);
    assert_eq!(get(backend, old_failure).await, None);
    assert_eq!(state(backend, done.id()).await, Some(JobState::Completed));
    assert_eq!(
        prune(&[JobState::Failed, JobState::Completed], 50, t.at(150.0)).await,
        2
    );
    assert_eq!(get(backend, new_failure).await, None);
    assert_eq!(get(backend, done.id()).await, None);
    assert_eq!(state(backend, ready.id()).await, Some(JobState::Ready));
    assert_eq!(
        prune(&[JobState::Failed, JobState::Completed], 0, t.at(1e6)).await,
        0
    );
}
