//! Conformance cases of `Backend::job_schedule`: time-driven transitions.

use super::*;

/// A job whose lease lapses is ready again, and its old lease is void.
pub async fn rescues_lapsed_leases(backend: &dyn Backend) {
    let t = Clock::new();
    let b = job("j", "c");
    insert(backend, t.at(0.0), &[&b]).await;
    let first = claim(backend, t.at(0.0), 1).await;
    assert_eq!(schedule(backend, t.at(29.0)).await.rescued, 0);
    assert!(
        claim(backend, t.at(29.0), 1).await.is_empty(),
        "job handed out while its lease held"
    );
    assert_eq!(schedule(backend, t.at(30.0)).await.rescued, 1);
    let second = claim(backend, t.at(30.0), 1).await;
    assert_eq!(second[0].attempt, 2);
    assert!(
        complete(backend, &[first[0].lease()]).await.is_empty(),
        "the old lease completed the job"
    );
    assert_eq!(complete(backend, &[second[0].lease()]).await.len(), 1);
}

/// A lapsed lease on the last attempt fails the job.
pub async fn fails_lapsed_last_attempts(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(0);
    insert(backend, t.at(0.0), &[&b]).await;
    claim(backend, t.at(0.0), 1).await;
    assert_eq!(schedule(backend, t.at(31.0)).await.rescued, 1);
    assert_eq!(state(backend, b.id()).await, Some(JobState::Failed));
}

/// The schedule says when the next scheduled job or commit deadline is
/// due; not when the next lease lapses.
pub async fn reports_the_next_due_time(backend: &dyn Backend) {
    let t = Clock::new();
    assert_eq!(schedule(backend, t.at(0.0)).await.next_due_in, None);
    let mut later = job("j", "c");
    later.set_delay(Duration::from_secs(20));
    let mut uncommitted = job("j", "c");
    uncommitted.set_commit_interval(Some(Duration::from_secs(15)));
    insert(backend, t.at(0.0), &[&later, &uncommitted]).await;
    assert_eq!(
        schedule(backend, t.at(0.0)).await.next_due_in,
        Some(Duration::from_secs(15))
    );
    let now = job("j", "c");
    insert(backend, t.at(0.0), &[&now]).await;
    claim(backend, t.at(0.0), 1).await; // lease until 30
    assert_eq!(
        schedule(backend, t.at(16.0)).await.next_due_in,
        Some(Duration::from_secs(4))
    );
    // Leases are left out: the lease until 30 is all that is left.
    let run = schedule(backend, t.at(20.0)).await;
    assert_eq!((run.made_ready, run.next_due_in), (1, None));
}
