//! Conformance cases of `Backend::job_checkpoint`: checkpoints.

use super::*;

/// A checkpoint's payload is what the next attempt sees; its extra retries
/// count.
pub async fn replaces_payload_and_adds_retries(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(0)
        .set_json(&1)
        .unwrap()
        .set_raw_bytes(b"keep");
    insert(backend, t.at(0.0), &[&b]).await;
    let first = claim(backend, t.at(0.0), 1).await;
    let saved = backend
        .job_checkpoint(JobCheckpointParams {
            lease: first[0].lease(),
            payload_json: Some("{\"step\":2}"),
            payload_bytes: None,
            extra_retries: 1,
            keep_alive: None,
            now: t.at(0.0),
        })
        .await
        .unwrap();
    assert!(saved);
    assert_eq!(
        fail(backend, t.at(0.0), first[0].lease(), Duration::ZERO).await,
        JobFailOutcome::Retrying
    );
    let second = claim(backend, t.at(0.0), 1).await;
    assert_eq!(second[0].payload_json.as_deref(), Some("{\"step\":2}"));
    assert_eq!(second[0].payload_bytes.as_deref(), Some(&b"keep"[..]));
    let stale = backend
        .job_checkpoint(JobCheckpointParams {
            lease: first[0].lease(),
            payload_json: Some("3"),
            payload_bytes: None,
            extra_retries: 0,
            keep_alive: None,
            now: t.at(0.0),
        })
        .await
        .unwrap();
    assert!(!stale, "a stale lease checkpointed");
}

/// A checkpoint with a keep-alive also holds the job: its lease lapses no
/// earlier than the keep-alive says (and is never shortened).
pub async fn with_keep_alive_extends_the_lease(backend: &dyn Backend) {
    let t = Clock::new();
    let b = job("j", "c");
    insert(backend, t.at(0.0), &[&b]).await;
    let claimed = claim(backend, t.at(0.0), 1).await; // lease until 30
    let checkpoint = |secs: u64, now: f64| {
        backend.job_checkpoint(JobCheckpointParams {
            lease: claimed[0].lease(),
            payload_json: None,
            payload_bytes: None,
            extra_retries: 0,
            keep_alive: Some(Duration::from_secs(secs)),
            now: t.at(now),
        })
    };
    assert!(checkpoint(100, 10.0).await.unwrap()); // until 110
    assert!(checkpoint(5, 20.0).await.unwrap()); // still 110
    assert_eq!(
        schedule(backend, t.at(109.0)).await.rescued,
        0,
        "rescued early"
    );
    assert_eq!(schedule(backend, t.at(110.0)).await.rescued, 1);
}
