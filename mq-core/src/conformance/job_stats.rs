//! Conformance cases of `Backend::job_stats`: counting jobs.

use super::*;

/// The stats count jobs per channel name and state, with ordered jobs and
/// the age of the oldest ready job.
pub async fn counts_per_channel_name_and_state(backend: &dyn Backend) {
    let t = Clock::new();
    let stats = |now| async move {
        backend
            .job_stats(JobStatsParams { now })
            .await
            .expect("job_stats")
    };
    assert!(stats(t.at(0.0)).await.counts.is_empty());
    let mut blocking = job("j", "b");
    blocking.set_ordered(true);
    failed_job(backend, t.at(0.0), blocking).await;
    let running = job("j", "b");
    insert(backend, t.at(0.0), &[&running]).await;
    claim(backend, t.at(0.0), 1).await;
    let mut a1 = job("j", "a");
    a1.set_channel_args("1");
    let a2 = job("j", "a");
    let mut later = job("j", "a");
    later.set_delay(Duration::from_secs(60));
    insert(backend, t.at(2.0), &[&a1]).await;
    insert(backend, t.at(4.0), &[&a2, &later]).await;

    let rows: Vec<(String, JobState, u64, u64, Option<Duration>)> = stats(t.at(10.0))
        .await
        .counts
        .into_iter()
        .map(|r| {
            (
                r.channel_name,
                r.state,
                r.count,
                r.ordered,
                r.oldest_ready_age,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("a".into(), JobState::Scheduled, 1, 0, None),
            (
                "a".into(),
                JobState::Ready,
                2,
                0,
                Some(Duration::from_secs(8))
            ),
            ("b".into(), JobState::Running, 1, 0, None),
            ("b".into(), JobState::Failed, 1, 1, None),
        ]
    );
}
