//! Conformance cases of `Backend::job_complete`: completing.

use super::*;

/// Completing deletes the job.
pub async fn deletes_the_job(backend: &dyn Backend) {
    let t = Clock::new();
    let b = job("j", "c");
    insert(backend, t.at(0.0), &[&b]).await;
    let claimed = claim(backend, t.at(0.0), 1).await;
    assert!(backend.job_exists(b.id()).await.unwrap());
    assert_eq!(
        complete(backend, &[claimed[0].lease()]).await,
        vec![claimed[0].lease()]
    );
    assert!(!backend.job_exists(b.id()).await.unwrap());
    assert_eq!(state(backend, b.id()).await, None);
    assert!(
        complete(backend, &[claimed[0].lease()]).await.is_empty(),
        "completed twice"
    );
}

/// Only the current attempt can complete a job.
pub async fn is_fenced_by_the_lease(backend: &dyn Backend) {
    let t = Clock::new();
    let b = job("j", "c");
    insert(backend, t.at(0.0), &[&b]).await;
    let claimed = claim(backend, t.at(0.0), 1).await;
    let stale = JobLease {
        id: b.id(),
        token: claimed[0].lease_token + 1,
    };
    assert!(complete(backend, &[stale]).await.is_empty());
    let unknown = JobLease {
        id: Uuid::now_v7(),
        token: 1,
    };
    assert!(complete(backend, &[unknown]).await.is_empty());
    assert!(backend.job_exists(b.id()).await.unwrap());
    // A ready (not running) job cannot be completed either.
    let other = job("j", "c");
    insert(backend, t.at(0.0), &[&other]).await;
    assert!(
        complete(
            backend,
            &[JobLease {
                id: other.id(),
                token: 0
            }]
        )
        .await
        .is_empty()
    );
    assert!(backend.job_exists(other.id()).await.unwrap());
}

/// With `keep_completed`, a completed job stays, in state completed with
/// its completion time, but does not exist for `job_exists`, never runs
/// again and no longer holds its ordered channel.
pub async fn keep_completed_keeps_the_job_out_of_the_way(backend: &dyn Backend) {
    let t = Clock::new();
    let mut first = job("o", "c");
    first.set_ordered(true).set_json(&"kept").unwrap();
    let mut second = job("o", "c");
    second.set_ordered(true);
    insert(backend, t.at(0.0), &[&first]).await;
    insert(backend, t.at(0.0), &[&second]).await;
    let claimed = claim(backend, t.at(0.0), 10).await;
    assert_eq!(ids(&claimed), vec![first.id()]);
    let lease = claimed[0].lease();
    let done = backend
        .job_complete(JobCompleteParams {
            leases: &[lease],
            keep_completed: true,
            skip_busy: true,
            now: t.at(5.0),
        })
        .await
        .expect("job_complete");
    assert_eq!(done, vec![(lease, LeaseOutcome::Done)]);
    assert_eq!(state(backend, first.id()).await, Some(JobState::Completed));
    assert!(
        !backend.job_exists(first.id()).await.unwrap(),
        "a kept completed job still exists"
    );
    let kept = get(backend, first.id()).await.expect("the job is kept");
    assert_eq!(kept.state, JobState::Completed);
    assert_eq!(kept.run_at, t.at(5.0).unwrap());
    assert_eq!(kept.attempt, 1);
    assert_eq!(kept.payload_json.as_deref(), Some("\"kept\""));

    let next = claim(backend, t.at(5.0), 10).await;
    assert_eq!(
        ids(&next),
        vec![second.id()],
        "a kept completed job held its ordered channel"
    );
    complete(backend, &[next[0].lease()]).await;
    let again = backend
        .job_complete(JobCompleteParams {
            leases: &[lease],
            keep_completed: true,
            skip_busy: true,
            now: t.at(6.0),
        })
        .await
        .unwrap();
    assert_eq!(again, vec![(lease, LeaseOutcome::Lost)], "completed twice");
    schedule(backend, t.at(1000.0)).await;
    assert_eq!(state(backend, first.id()).await, Some(JobState::Completed));
    assert!(claim(backend, t.at(1000.0), 10).await.is_empty());
}
