//! Conformance cases of `Backend::job_cancel`: cancelling jobs.

use super::*;
use crate::backend::{CancelOutcome, JobCancelParams};

async fn cancel(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    ids: &[Uuid],
) -> Vec<(Uuid, CancelOutcome)> {
    backend
        .job_cancel(JobCancelParams { ids, now })
        .await
        .expect("job_cancel")
}

/// Jobs that have not started, in every such state, are cancelled at
/// once: kept in state cancelled from the cancel's time, never claimed.
pub async fn cancels_jobs_that_have_not_started(backend: &dyn Backend) {
    let t = Clock::new();
    let ready = job("j", "a");
    let mut later = job("j", "a");
    later.set_delay(Duration::from_secs(60));
    let mut two_phase = job("j", "a");
    two_phase.set_commit_interval(Some(Duration::from_secs(60)));
    let mut head = job("j", "o");
    head.set_ordered(true);
    let mut behind = job("j", "o");
    behind.set_ordered(true);
    insert(backend, t.at(0.0), &[&ready, &later, &two_phase]).await;
    insert(backend, t.at(0.0), &[&head]).await;
    insert(backend, t.at(0.0), &[&behind]).await;
    assert_eq!(state(backend, behind.id()).await, Some(JobState::Blocked));

    let all = [ready.id(), later.id(), two_phase.id(), behind.id()];
    let outcomes = cancel(backend, t.at(5.0), &all).await;
    let mut expected: Vec<(Uuid, CancelOutcome)> = all
        .iter()
        .map(|id| (*id, CancelOutcome::Cancelled))
        .collect();
    let mut outcomes_sorted = outcomes.clone();
    outcomes_sorted.sort_by_key(|(id, _)| *id);
    expected.sort_by_key(|(id, _)| *id);
    assert_eq!(outcomes_sorted, expected);
    for id in all {
        let job = get(backend, id).await.expect("a cancelled job is kept");
        assert_eq!(job.state, JobState::Cancelled);
        assert_eq!(Some(job.run_at), t.at(5.0));
        assert_eq!(job.commit_deadline, None);
    }
    // Committing a cancelled two-phase job leaves it cancelled.
    backend
        .job_commit(JobCommitParams {
            ids: &[two_phase.id()],
            now: t.at(6.0),
        })
        .await
        .expect("job_commit");
    assert_eq!(
        state(backend, two_phase.id()).await,
        Some(JobState::Cancelled)
    );
    schedule(backend, t.at(100.0)).await;
    assert_eq!(ids(&claim(backend, t.at(100.0), 10).await), vec![head.id()]);
    let stats = backend
        .job_stats(JobStatsParams { now: t.at(100.0) })
        .await
        .expect("job_stats");
    assert_eq!(stats.total(JobState::Cancelled), 4);
}

/// Cancelling a running job fences its lease: completing, failing or
/// keeping it alive changes nothing, and it stays cancelled.
pub async fn fences_a_running_job(backend: &dyn Backend) {
    let t = Clock::new();
    let [id] = insert(backend, t.at(0.0), &[&job("j", "a")])
        .await
        .try_into()
        .expect("one id");
    let lease = claim(backend, t.at(0.0), 1).await[0].lease();
    assert_eq!(
        cancel(backend, t.at(1.0), &[id]).await,
        vec![(id, CancelOutcome::CancelledRunning)]
    );
    let kept = backend
        .job_keep_alive(JobKeepAliveParams {
            leases: &[lease],
            lease: LEASE,
            now: t.at(2.0),
        })
        .await
        .expect("job_keep_alive");
    assert_eq!(kept, vec![(lease, LeaseOutcome::Lost)]);
    assert_eq!(complete_at(backend, &[lease], t.at(3.0)).await, vec![]);
    assert_eq!(
        fail(backend, t.at(3.0), lease, Duration::ZERO).await,
        JobFailOutcome::LeaseLost
    );
    // Its lease lapsing brings nothing back.
    schedule(backend, t.at(1000.0)).await;
    assert_eq!(state(backend, id).await, Some(JobState::Cancelled));
    assert!(claim(backend, t.at(1000.0), 10).await.is_empty());
}

/// Finished jobs are left as they were, each job is answered once however
/// often it is named, and jobs not stored are left out.
pub async fn leaves_finished_jobs_alone(backend: &dyn Backend) {
    let t = Clock::new();
    let failed = failed_job(backend, t.at(0.0), job("j", "f")).await;
    let [ready] = insert(backend, t.at(0.0), &[&job("j", "a")])
        .await
        .try_into()
        .expect("one id");
    let unknown = Uuid::now_v7();
    let mut outcomes = cancel(backend, t.at(1.0), &[failed, ready, ready, unknown]).await;
    outcomes.sort_by_key(|(id, _)| *id);
    let mut expected = vec![
        (failed, CancelOutcome::Finished(JobState::Failed)),
        (ready, CancelOutcome::Cancelled),
    ];
    expected.sort_by_key(|(id, _)| *id);
    assert_eq!(outcomes, expected);
    assert_eq!(
        cancel(backend, t.at(2.0), &[ready]).await,
        vec![(ready, CancelOutcome::Finished(JobState::Cancelled))]
    );
    assert_eq!(state(backend, failed).await, Some(JobState::Failed));
    assert!(cancel(backend, t.at(2.0), &[unknown]).await.is_empty());
}

/// A cancelled ordered job no longer holds its channel: cancelling the
/// running head unblocks the next job, and a cancelled job in the middle
/// is passed over.
pub async fn frees_its_ordered_channel(backend: &dyn Backend) {
    let t = Clock::new();
    let mut ordered = Vec::new();
    for _ in 0..4 {
        let mut builder = job("j", "o");
        builder.set_ordered(true);
        insert(backend, t.at(0.0), &[&builder]).await;
        ordered.push(builder.id());
    }
    let head = claim(backend, t.at(0.0), 10).await;
    assert_eq!(ids(&head), vec![ordered[0]]);
    cancel(backend, t.at(1.0), &[ordered[2]]).await;
    cancel(backend, t.at(1.0), &[ordered[0]]).await;
    let second = claim(backend, t.at(2.0), 10).await;
    assert_eq!(ids(&second), vec![ordered[1]]);
    complete(backend, &[second[0].lease()]).await;
    assert_eq!(ids(&claim(backend, t.at(3.0), 10).await), vec![ordered[3]]);
}

/// Cancelled jobs are pruned by age, like failed ones.
pub async fn are_pruned_by_age(backend: &dyn Backend) {
    let t = Clock::new();
    let [old, young] = insert(backend, t.at(0.0), &[&job("j", "a"), &job("j", "a")])
        .await
        .try_into()
        .expect("two ids");
    cancel(backend, t.at(0.0), &[old]).await;
    cancel(backend, t.at(50.0), &[young]).await;
    let pruned = delete_where(
        backend,
        JobFilter {
            states: Some(&[JobState::Cancelled]),
            finished_before: Some(Duration::from_secs(30)),
            now: t.at(60.0),
            ..JobFilter::default()
        },
    )
    .await;
    assert_eq!(pruned, vec![old]);
    assert_eq!(state(backend, young).await, Some(JobState::Cancelled));
}
