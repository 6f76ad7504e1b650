//! The backend conformance suite on the counting backend of
//! `examples/counting_backend.rs`: a backend written with `mq` alone passes
//! it through `mq::conformance_tests!` (whose `$crate` paths lead to
//! mq-core, which the example does not name).

#[path = "../examples/counting_backend.rs"]
#[allow(dead_code)]
mod example;

use example::CountingBackend;
use mq::testing::MemoryBackend;

async fn backend() -> CountingBackend<MemoryBackend> {
    CountingBackend::new(MemoryBackend::new())
}

mq::conformance_tests!(#[tokio::test], backend, mq::default_spawner());

/// The wrapper is really in the way: the calls the suite's cases make go
/// through it.
#[tokio::test]
async fn calls_go_through_the_wrapper() {
    let backend = backend().await;
    let jobs = [mq::JobBuilder::new("a"), mq::JobBuilder::new("b")];
    mq::spawn_many(&backend, &jobs).await.unwrap();
    mq::commit(&backend, &[jobs[0].id()]).await.unwrap();
    let calls = backend.calls();
    assert_eq!(calls.get("job_insert"), Some(&1));
    assert_eq!(calls.get("job_commit"), Some(&1));
    assert_eq!(calls.get("job_claim"), None);
}
