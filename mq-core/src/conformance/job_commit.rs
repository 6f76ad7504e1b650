//! Conformance cases of `Backend::job_commit`: two-phase commit.

use super::*;

/// A two-phase job is invisible until committed.
pub async fn makes_jobs_visible(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_commit_interval(Some(Duration::from_secs(60)));
    insert(backend, t.at(0.0), &[&b]).await;
    assert_eq!(state(backend, b.id()).await, Some(JobState::Uncommitted));
    schedule(backend, t.at(1.0)).await;
    assert!(
        claim(backend, t.at(1.0), 1).await.is_empty(),
        "an uncommitted job ran"
    );
    let missing = backend
        .job_commit(JobCommitParams {
            ids: &[b.id()],
            now: t.at(1.0),
        })
        .await
        .unwrap();
    assert!(missing.is_empty());
    assert_eq!(ids(&claim(backend, t.at(1.0), 1).await), vec![b.id()]);
}

/// Committing unknown ids reports them; committing twice does not.
pub async fn reports_missing_jobs(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_commit_interval(Some(Duration::from_secs(60)));
    insert(backend, t.at(0.0), &[&b]).await;
    let unknown = Uuid::now_v7();
    let missing = backend
        .job_commit(JobCommitParams {
            ids: &[b.id(), unknown],
            now: t.at(0.0),
        })
        .await
        .unwrap();
    assert_eq!(missing, vec![unknown]);
    let again = backend
        .job_commit(JobCommitParams {
            ids: &[b.id()],
            now: t.at(0.0),
        })
        .await
        .unwrap();
    assert!(
        again.is_empty(),
        "committing twice reported the job missing"
    );
}

/// An uncommitted job whose interval lapses is discarded, never run.
pub async fn lapsed_jobs_are_discarded(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_commit_interval(Some(Duration::from_secs(10)));
    insert(backend, t.at(0.0), &[&b]).await;
    assert_eq!(schedule(backend, t.at(10.0)).await.discarded, 1);
    assert!(!backend.job_exists(b.id()).await.unwrap());
    let missing = backend
        .job_commit(JobCommitParams {
            ids: &[b.id()],
            now: t.at(10.0),
        })
        .await
        .unwrap();
    assert_eq!(missing, vec![b.id()]);
    assert!(claim(backend, t.at(10.0), 1).await.is_empty());
}

/// An uncommitted ordered job holds its place: later ordered jobs wait for
/// it to be committed and run, or discarded.
pub async fn ordered_reserves_the_position(backend: &dyn Backend) {
    let t = Clock::new();
    let mut reserved = job("o", "c");
    reserved
        .set_ordered(true)
        .set_commit_interval(Some(Duration::from_secs(60)));
    let mut next = job("o", "c");
    next.set_ordered(true);
    insert(backend, t.at(0.0), &[&reserved]).await;
    insert(backend, t.at(0.0), &[&next]).await;
    assert!(
        claim(backend, t.at(0.0), 10).await.is_empty(),
        "jumped an uncommitted reservation"
    );
    backend
        .job_commit(JobCommitParams {
            ids: &[reserved.id()],
            now: t.at(1.0),
        })
        .await
        .unwrap();
    let first = claim(backend, t.at(1.0), 10).await;
    assert_eq!(ids(&first), vec![reserved.id()]);
    complete(backend, &[first[0].lease()]).await;
    assert_eq!(ids(&claim(backend, t.at(1.0), 10).await), vec![next.id()]);

    // A reservation that lapses releases the channel.
    let mut lapsing = job("o", "d");
    lapsing
        .set_ordered(true)
        .set_commit_interval(Some(Duration::from_secs(5)));
    let mut after = job("o", "d");
    after.set_ordered(true);
    insert(backend, t.at(0.0), &[&lapsing]).await;
    insert(backend, t.at(0.0), &[&after]).await;
    let only_d = ["d".to_owned()];
    assert!(
        claim_with(backend, t.at(1.0), 10, Some(&only_d), None)
            .await
            .is_empty()
    );
    assert_eq!(schedule(backend, t.at(5.0)).await.discarded, 1);
    assert_eq!(
        ids(&claim_with(backend, t.at(5.0), 10, Some(&only_d), None).await),
        vec![after.id()]
    );
}

/// Committing the same jobs from several calls at once: every call
/// succeeds and reports none of them missing, whichever commits first.
pub async fn concurrent_commits_of_one_job_all_succeed(backend: &dyn Backend) {
    let t = Clock::new();
    for round in 0..20 {
        let builders: Vec<JobBuilder> = (0..20)
            .map(|_| {
                let mut b = job("j", "c");
                b.set_commit_interval(Some(Duration::from_secs(60)));
                b
            })
            .collect();
        let ids = insert(backend, t.at(0.0), &builders.iter().collect::<Vec<_>>()).await;
        let commit = || {
            backend.job_commit(JobCommitParams {
                ids: &ids,
                now: t.at(1.0),
            })
        };
        let (a, b, c) = futures::join!(commit(), commit(), commit());
        for missing in [a, b, c] {
            assert_eq!(
                missing.expect("job_commit"),
                Vec::<Uuid>::new(),
                "round {round}"
            );
        }
        for id in &ids {
            assert_eq!(state(backend, *id).await, Some(JobState::Ready));
        }
        let claimed = claim(backend, t.at(1.0), 100).await;
        assert_eq!(claimed.len(), 20);
        complete(
            backend,
            &claimed.iter().map(ClaimedJob::lease).collect::<Vec<_>>(),
        )
        .await;
    }
}
