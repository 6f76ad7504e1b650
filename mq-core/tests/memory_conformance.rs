//! The conformance suite against the in-memory backend.
#![cfg(feature = "testing")]

use std::sync::Arc;

use mq_core::memory::MemoryBackend;
use mq_runtime_tokio::TokioSpawner;

async fn backend() -> MemoryBackend {
    MemoryBackend::new()
}

mq_core::conformance_tests!(#[tokio::test], backend, Arc::new(TokioSpawner::new()));
