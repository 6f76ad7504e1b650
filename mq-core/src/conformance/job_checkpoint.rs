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
        })
        .await
        .unwrap();
    assert!(!stale, "a stale lease checkpointed");
}
