//! Conformance cases of `Backend::job_release`: releasing.

use super::*;

/// A released job is ready again without having used an attempt.
pub async fn does_not_count_the_attempt(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(0);
    insert(backend, t.at(0.0), &[&b]).await;
    let first = claim(backend, t.at(0.0), 1).await;
    let released = backend
        .job_release(JobReleaseParams {
            skip_busy: true,
            leases: &[first[0].lease()],
            delay: Duration::from_secs(5),
            now: t.at(0.0),
        })
        .await
        .unwrap();
    assert_eq!(released, vec![(first[0].lease(), LeaseOutcome::Done)]);
    assert_eq!(state(backend, b.id()).await, Some(JobState::Scheduled));
    schedule(backend, t.at(5.0)).await;
    let again = claim(backend, t.at(5.0), 1).await;
    assert_eq!(again[0].attempt, 1, "a release counted as an attempt");
    assert_eq!(again[0].lease_token, 2, "a lease token was reused");
    // The released claim's lease is void.
    assert!(complete(backend, &[first[0].lease()]).await.is_empty());
    let again = backend
        .job_release(JobReleaseParams {
            skip_busy: true,
            leases: &[first[0].lease()],
            delay: Duration::ZERO,
            now: t.at(5.0),
        })
        .await
        .unwrap();
    assert_eq!(again, vec![(first[0].lease(), LeaseOutcome::Lost)]);
}

/// A batch of claims is given back in one call, each ready at once with
/// a delay of zero; stale leases are answered as lost.
pub async fn gives_back_a_batch(backend: &dyn Backend) {
    let t = Clock::new();
    let builders: Vec<JobBuilder> = (0..5).map(|i| job("j", &format!("c{i}"))).collect();
    insert(backend, t.at(0.0), &builders.iter().collect::<Vec<_>>()).await;
    let claimed = claim(backend, t.at(0.0), 5).await;
    assert_eq!(claimed.len(), 5);
    let mut leases: Vec<JobLease> = claimed.iter().map(ClaimedJob::lease).collect();
    let stale = JobLease {
        id: leases[0].id,
        token: leases[0].token + 7,
    };
    leases.push(stale);
    let outcomes = backend
        .job_release(JobReleaseParams {
            skip_busy: true,
            leases: &leases,
            delay: Duration::ZERO,
            now: t.at(0.0),
        })
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 6, "one outcome per lease: {outcomes:?}");
    for (lease, outcome) in &outcomes {
        let expected = if *lease == stale {
            LeaseOutcome::Lost
        } else {
            LeaseOutcome::Done
        };
        assert_eq!(*outcome, expected, "{lease:?}");
    }
    for b in &builders {
        assert_eq!(state(backend, b.id()).await, Some(JobState::Ready));
    }
    let again = claim(backend, t.at(0.0), 5).await;
    assert_eq!(again.len(), 5);
    assert!(again.iter().all(|job| job.attempt == 1));
}
