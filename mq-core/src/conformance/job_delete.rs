//! Conformance cases of `Backend::job_delete`: deleting jobs (by id, by
//! channel name as `clear` does, or finished long ago as `prune` does).

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

/// Deleting by channel names (what `clear` does) takes their jobs in any
/// state and with any arguments; an empty filter (`clear_all`) takes every
/// job.
pub async fn clears_channel_names_or_everything(backend: &dyn Backend) {
    let t = Clock::new();
    let mut a = job("j", "a");
    a.set_channel_args("x");
    let mut a_later = job("j", "a");
    a_later.set_delay(Duration::from_secs(100));
    let b = job("j", "b");
    let c = job("j", "c");
    insert(backend, t.at(0.0), &[&a, &a_later, &b, &c]).await;
    let names = ["a".to_owned(), "b".to_owned()];
    let cleared = delete_where(
        backend,
        JobFilter {
            channel_names: Some(&names),
            ..JobFilter::default()
        },
    )
    .await;
    assert_eq!(sorted(cleared), sorted(vec![a.id(), a_later.id(), b.id()]));
    assert!(backend.job_exists(c.id()).await.unwrap());
    assert!(!backend.job_exists(a_later.id()).await.unwrap());
    assert_eq!(backend.job_clear_all().await.unwrap(), 1);
    assert!(!backend.job_exists(c.id()).await.unwrap());
}

/// Deleting jobs finished at least so long ago (what `prune` does) takes
/// the failed and completed jobs old enough, and nothing else.
pub async fn prunes_old_failed_and_completed_jobs(backend: &dyn Backend) {
    let t = Clock::new();
    let prune = |states: &'static [JobState], older_than: u64, now| async move {
        delete_where(
            backend,
            JobFilter {
                states: Some(states),
                finished_before: Some(Duration::from_secs(older_than)),
                now,
                ..JobFilter::default()
            },
        )
        .await
        .len()
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
