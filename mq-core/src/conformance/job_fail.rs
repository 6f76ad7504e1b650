//! Conformance cases of `Backend::job_fail`: failed attempts.

use super::*;

/// Failed attempts are retried after their delay until the retries run
/// out; then the job is failed and kept.
pub async fn retries_with_backoff_then_fails(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(2);
    insert(backend, t.at(0.0), &[&b]).await;

    let first = claim(backend, t.at(0.0), 1).await;
    assert_eq!(first[0].attempt, 1);
    assert_eq!(
        fail(backend, t.at(0.0), first[0].lease(), Duration::from_secs(1)).await,
        JobFailOutcome::Retrying
    );
    assert_eq!(state(backend, b.id()).await, Some(JobState::Scheduled));
    schedule(backend, t.at(0.9)).await;
    assert!(
        claim(backend, t.at(0.9), 1).await.is_empty(),
        "retried before its backoff"
    );
    schedule(backend, t.at(1.0)).await;
    let second = claim(backend, t.at(1.0), 1).await;
    assert_eq!(second[0].attempt, 2);
    assert_eq!(
        fail(
            backend,
            t.at(1.0),
            second[0].lease(),
            Duration::from_secs(2)
        )
        .await,
        JobFailOutcome::Retrying
    );
    schedule(backend, t.at(3.0)).await;
    let third = claim(backend, t.at(3.0), 1).await;
    assert_eq!(third[0].attempt, 3);
    assert_eq!(
        fail(backend, t.at(3.0), third[0].lease(), Duration::from_secs(4)).await,
        JobFailOutcome::Failed
    );

    assert_eq!(state(backend, b.id()).await, Some(JobState::Failed));
    assert!(
        backend.job_exists(b.id()).await.unwrap(),
        "a failed job must stay inspectable"
    );
    schedule(backend, t.at(100.0)).await;
    assert!(
        claim(backend, t.at(100.0), 1).await.is_empty(),
        "a failed job ran again"
    );
    // The stale lease of a finished attempt changes nothing.
    assert_eq!(
        fail(backend, t.at(100.0), third[0].lease(), Duration::ZERO).await,
        JobFailOutcome::LeaseLost
    );
}

/// A retry without delay is ready at once.
pub async fn without_delay_is_ready_at_once(backend: &dyn Backend) {
    let t = Clock::new();
    let b = job("j", "c");
    insert(backend, t.at(0.0), &[&b]).await;
    let first = claim(backend, t.at(0.0), 1).await;
    fail(backend, t.at(0.0), first[0].lease(), Duration::ZERO).await;
    assert_eq!(state(backend, b.id()).await, Some(JobState::Ready));
    assert_eq!(claim(backend, t.at(0.0), 1).await[0].attempt, 2);
}

/// Each failed attempt is recorded with its number and time, whether the
/// job failed it or its lease lapsed.
pub async fn records_the_error_history(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(1);
    insert(backend, t.at(0.0), &[&b]).await;
    assert!(get(backend, b.id()).await.unwrap().errors.is_empty());
    let first = claim(backend, t.at(0.0), 1).await;
    assert_eq!(
        fail_with(backend, t.at(1.0), first[0].lease(), "the first went wrong").await,
        JobFailOutcome::Retrying
    );
    claim(backend, t.at(1.0), 1).await; // lease until 31
    assert_eq!(schedule(backend, t.at(40.0)).await.rescued, 1);

    let failed = get(backend, b.id()).await.unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.attempt, 2);
    let history: Vec<(i32, OffsetDateTime, &str)> = failed
        .errors
        .iter()
        .map(|e| (e.attempt, e.at, e.error.as_str()))
        .collect();
    assert_eq!(
        history,
        vec![
            (1, t.at(1.0).unwrap(), "the first went wrong"),
            (
                2,
                t.at(40.0).unwrap(),
                "the job's lease expired before it finished"
            ),
        ]
    );
    assert_eq!(
        failed.last_error().map(|e| e.attempt),
        Some(2),
        "the last error is the latest"
    );
}

/// The history keeps the latest `MAX_ERROR_HISTORY` failed attempts.
pub async fn keeps_the_latest_errors(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(100);
    insert(backend, t.at(0.0), &[&b]).await;
    let attempts = MAX_ERROR_HISTORY as i32 + 5;
    for attempt in 1..=attempts {
        let claimed = claim(backend, t.at(0.0), 1).await;
        assert_eq!(claimed[0].attempt, attempt);
        fail_with(
            backend,
            t.at(0.0),
            claimed[0].lease(),
            &format!("error {attempt}"),
        )
        .await;
    }
    let errors = get(backend, b.id()).await.unwrap().errors;
    assert_eq!(errors.len(), MAX_ERROR_HISTORY);
    let kept: Vec<i32> = errors.iter().map(|e| e.attempt).collect();
    let expected: Vec<i32> = (6..=attempts).collect();
    assert_eq!(kept, expected);
    assert_eq!(errors.last().unwrap().error, format!("error {attempts}"));
}

/// Whoever calls `job_fail`, the stored error is at most 4 KiB, cut at a
/// character boundary, and NUL characters do not break it.
pub async fn bounds_the_error_text(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(5);
    insert(backend, t.at(0.0), &[&b]).await;
    let long = "é".repeat(10_000);
    let first = claim(backend, t.at(0.0), 1).await;
    fail_with(backend, t.at(0.0), first[0].lease(), &long).await;
    let second = claim(backend, t.at(0.0), 1).await;
    fail_with(backend, t.at(0.0), second[0].lease(), "a\0b").await;
    let errors = get(backend, b.id()).await.unwrap().errors;
    let max = crate::registry::MAX_ERROR_TEXT;
    assert!(
        errors[0].error.len() <= max,
        "{} bytes",
        errors[0].error.len()
    );
    assert!(errors[0].error.len() > max - 4);
    assert!(long.starts_with(&errors[0].error));
    assert_eq!(errors[1].error, "a\u{fffd}b");
}
