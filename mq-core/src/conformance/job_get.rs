//! Conformance cases of `Backend::job_get`: looking a job up.

use super::*;

/// `job_get` returns what was spawned, and the job's progress.
pub async fn returns_everything_stored(backend: &dyn Backend) {
    let t = Clock::new();
    assert_eq!(get(backend, Uuid::now_v7()).await, None);
    let mut b = job("full", "c");
    b.set_channel_args("args")
        .set_json(&serde_json::json!({"k": [1, 2]}))
        .unwrap()
        .set_raw_bytes([0u8, 255])
        .set_retries(3)
        .set_retry_backoff(Duration::from_millis(2500))
        .set_retry_backoff_max(Duration::from_secs(90))
        .set_retry_jitter(true)
        .set_ordered(true)
        .set_delay(Duration::from_secs(10));
    let mut two_phase = job("two-phase", "c");
    two_phase.set_commit_interval(Some(Duration::from_secs(60)));
    insert(backend, t.at(0.0), &[&b, &two_phase]).await;
    let wall_clock = OffsetDateTime::now_utc();

    let got = get(backend, b.id()).await.expect("the job exists");
    assert_eq!(got.id, b.id());
    assert_eq!(got.state, JobState::Scheduled);
    assert_eq!(got.name, "full");
    assert_eq!(got.channel_name, "c");
    assert_eq!(got.channel_args, "args");
    assert!(got.ordered);
    assert_eq!(got.attempt, 0);
    assert_eq!(got.retries, 3);
    assert_eq!(got.retry_backoff, Duration::from_millis(2500));
    assert_eq!(got.retry_backoff_max, Some(Duration::from_secs(90)));
    assert!(got.retry_jitter);
    assert_eq!(got.run_at, t.at(10.0).unwrap());
    assert_eq!(got.commit_deadline, None);
    // The spawn time comes from the backend's own clock.
    assert!((got.created_at - wall_clock).abs() < time::Duration::minutes(5));
    let payload: serde_json::Value =
        serde_json::from_str(got.payload_json.as_deref().unwrap()).unwrap();
    assert_eq!(payload, serde_json::json!({"k": [1, 2]}));
    assert_eq!(got.payload_bytes.as_deref(), Some(&[0u8, 255][..]));
    assert!(got.errors.is_empty());

    let uncommitted = get(backend, two_phase.id()).await.unwrap();
    assert_eq!(uncommitted.state, JobState::Uncommitted);
    assert_eq!(uncommitted.retry_backoff_max, None);
    assert!(!uncommitted.retry_jitter);
    assert_eq!(uncommitted.commit_deadline, t.at(60.0));
    assert!(
        uncommitted.seq > got.seq,
        "spawn order: {} then {}",
        got.seq,
        uncommitted.seq
    );
}

/// An unfinished ordered job tells how many unfinished ordered jobs of
/// its channel (name and arguments) run before it; other jobs tell
/// nothing.
pub async fn tells_an_ordered_jobs_place(backend: &dyn Backend) {
    let t = Clock::new();
    let ordered = |args: &str| {
        let mut b = job("step", "line");
        b.set_channel_args(args).set_ordered(true);
        b
    };
    let (first, second, third) = (ordered("a"), ordered("a"), ordered("a"));
    let (elsewhere, plain) = (ordered("b"), job("plain", "line"));
    insert(backend, t.at(0.0), &[&first, &second, &elsewhere, &plain]).await;
    insert(backend, t.at(0.0), &[&third]).await;
    let ahead = |id| async move {
        get(backend, id)
            .await
            .expect("the job exists")
            .ordered_ahead
    };
    assert_eq!(ahead(first.id()).await, Some(0));
    assert_eq!(ahead(second.id()).await, Some(1));
    assert_eq!(ahead(third.id()).await, Some(2));
    assert_eq!(ahead(elsewhere.id()).await, Some(0));
    assert_eq!(ahead(plain.id()).await, None);

    // The head runs and completes: the others move up.
    let claimed = claim(backend, t.at(0.0), 10).await;
    let head = claimed
        .iter()
        .find(|c| c.id == first.id())
        .expect("the head is claimed");
    assert_eq!(
        ahead(first.id()).await,
        Some(0),
        "running, it still holds the line"
    );
    complete(backend, &[head.lease()]).await;
    assert_eq!(ahead(second.id()).await, Some(0));
    assert_eq!(ahead(third.id()).await, Some(1));
}
