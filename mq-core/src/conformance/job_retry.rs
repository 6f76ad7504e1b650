//! Conformance cases of `Backend::job_retry`: retrying failed jobs.

use super::*;

/// A retried job is ready at once with all its attempts, keeps its error
/// history, and old leases stay fenced; jobs that are not failed are left
/// alone.
pub async fn makes_failed_jobs_ready_with_fresh_attempts(backend: &dyn Backend) {
    let t = Clock::new();
    let only_c = ["c".to_owned()];
    let mut b = job("j", "c");
    b.set_retries(1);
    let ready = job("j", "other");
    insert(backend, t.at(0.0), &[&b, &ready]).await;
    let first = claim_with(backend, t.at(0.0), 1, Some(&only_c), None).await;
    fail(backend, t.at(0.0), first[0].lease(), Duration::ZERO).await;
    let second = claim_with(backend, t.at(0.0), 1, Some(&only_c), None).await;
    assert_eq!(
        fail(backend, t.at(0.0), second[0].lease(), Duration::ZERO).await,
        JobFailOutcome::Failed
    );

    let unknown = Uuid::now_v7();
    let retried = retry(
        backend,
        t.at(5.0),
        Some(&[b.id(), ready.id(), unknown]),
        None,
    )
    .await;
    assert_eq!(retried, vec![b.id()]);
    let job = get(backend, b.id()).await.unwrap();
    assert_eq!(job.state, JobState::Ready);
    assert_eq!(job.attempt, 0, "attempts count from zero again");
    assert_eq!(job.run_at, t.at(5.0).unwrap());
    assert_eq!(job.errors.len(), 2, "the error history is kept");
    assert_eq!(state(backend, ready.id()).await, Some(JobState::Ready));

    // The lease of the failed attempt is still void.
    assert!(complete(backend, &[second[0].lease()]).await.is_empty());
    assert_eq!(
        fail(backend, t.at(5.0), second[0].lease(), Duration::ZERO).await,
        JobFailOutcome::LeaseLost
    );
    let third = claim_with(backend, t.at(5.0), 1, Some(&only_c), None).await;
    assert_eq!(third[0].attempt, 1);
    assert!(
        third[0].lease_token > second[0].lease_token,
        "a lease token was reused"
    );
    assert!(
        retry(backend, t.at(5.0), Some(&[b.id()]), None)
            .await
            .is_empty(),
        "a running job was retried"
    );
    // With attempts left again, a failure is retried, not final.
    assert_eq!(
        fail(backend, t.at(5.0), third[0].lease(), Duration::ZERO).await,
        JobFailOutcome::Retrying
    );
}

/// Retrying every failed job, or those of one channel name (listeners
/// hearing of them is `listen::wakes_up_on_retry`).
pub async fn by_channel_name(backend: &dyn Backend) {
    let t = Clock::new();
    let mut x1 = job("j", "x");
    x1.set_channel_args("1");
    let x1 = failed_job(backend, t.at(0.0), x1).await;
    let x2 = failed_job(backend, t.at(0.0), job("j", "x")).await;
    let y = failed_job(backend, t.at(0.0), job("j", "y")).await;

    let retried = retry(backend, t.at(1.0), None, Some("x")).await;
    assert_eq!(sorted(retried), sorted(vec![x1, x2]));
    assert_eq!(state(backend, y).await, Some(JobState::Failed));
    assert_eq!(retry(backend, t.at(1.0), None, None).await, vec![y]);
    assert!(retry(backend, t.at(1.0), None, None).await.is_empty());
    assert!(
        retry(backend, t.at(1.0), Some(&[x1]), Some("y"))
            .await
            .is_empty(),
        "the channel name filter was ignored"
    );
}
