//! Conformance cases of `Backend::job_keep_alive`: keeping leases alive.

use super::*;

/// Keep-alive moves the lease forward; a stale lease is not kept.
pub async fn extends_the_lease(backend: &dyn Backend) {
    let t = Clock::new();
    let b = job("j", "c");
    insert(backend, t.at(0.0), &[&b]).await;
    let claimed = claim(backend, t.at(0.0), 1).await; // lease until 30
    let lease = claimed[0].lease();
    let stale = JobLease {
        id: lease.id,
        token: lease.token + 1,
    };
    let kept = backend
        .job_keep_alive(JobKeepAliveParams {
            leases: &[lease, stale],
            lease: Duration::from_secs(30),
            now: t.at(20.0),
        })
        .await
        .unwrap();
    assert_eq!(
        kept,
        vec![(lease, LeaseOutcome::Done), (stale, LeaseOutcome::Lost)]
    );
    assert_eq!(
        schedule(backend, t.at(49.0)).await.rescued,
        0,
        "kept job rescued early"
    );
    assert!(claim(backend, t.at(49.0), 1).await.is_empty());
    assert_eq!(schedule(backend, t.at(50.0)).await.rescued, 1);
}

/// Completing a batch while keeping the same jobs alive in the opposite
/// order, over and over, never fails and never waits: both skip the rows
/// the other holds (answering busy), and a busy completion goes through
/// when tried again.
pub async fn never_deadlocks_with_job_complete(backend: &dyn Backend) {
    let t = Clock::new();
    for round in 0..10 {
        let builders: Vec<JobBuilder> = (0..200).map(|_| job("j", "c")).collect();
        insert(backend, t.at(0.0), &builders.iter().collect::<Vec<_>>()).await;
        let claimed = claim(backend, t.at(0.0), 200).await;
        assert_eq!(claimed.len(), 200);
        let leases: Vec<JobLease> = claimed.iter().map(ClaimedJob::lease).collect();
        let mut reversed = leases.clone();
        reversed.reverse();
        let (completed, kept) = futures::join!(
            backend.job_complete(JobCompleteParams {
                leases: &leases,
                keep_completed: false,
                skip_busy: true,
                now: t.at(0.0),
            }),
            backend.job_keep_alive(JobKeepAliveParams {
                leases: &reversed,
                lease: LEASE,
                now: t.at(0.0),
            }),
        );
        let completed = completed.unwrap_or_else(|e| panic!("round {round}: job_complete: {e:?}"));
        let kept = kept.unwrap_or_else(|e| panic!("round {round}: job_keep_alive: {e:?}"));
        assert_eq!(completed.len(), 200, "round {round}: an outcome per lease");
        assert_eq!(kept.len(), 200, "round {round}: an outcome per lease");
        let busy: Vec<JobLease> = completed
            .iter()
            .filter(|(_, outcome)| *outcome == LeaseOutcome::Busy)
            .map(|(lease, _)| *lease)
            .collect();
        assert!(
            completed
                .iter()
                .all(|(_, outcome)| *outcome != LeaseOutcome::Lost),
            "round {round}: a held lease was reported lost"
        );
        assert_eq!(
            complete(backend, &busy).await.len(),
            busy.len(),
            "round {round}: busy completions went through when tried again"
        );
    }
}
