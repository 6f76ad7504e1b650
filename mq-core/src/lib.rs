//! The core of mq, a job queue for applications that run PostgreSQL.
//!
//! This crate holds everything that does not depend on a database or an
//! async runtime: the [`Backend`] trait (storage) and the [`Spawner`] trait
//! (runtime), the job runner, retries and backoff, keep-alive, the registry
//! of named jobs, and the errors. The `mq` crate puts it together with a
//! driver and a runtime; use that unless you write a backend of your own.
//!
//! With the `testing` feature this crate also provides
//! [`memory::MemoryBackend`], an in-memory backend with the same semantics
//! as PostgreSQL for unit-testing jobs, and [`conformance`], the suite that
//! every backend (yours included) must pass.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod activity;
pub mod admin;
pub mod backend;
pub mod builder;
pub mod error;
pub mod executor;
pub mod ext;
pub mod job;
pub mod limits;
pub mod ops;
pub mod payload;
pub mod periodic;
pub mod ready_queue;
pub mod registry;
pub mod retry;
pub mod runner;
pub mod spawner;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "testing")]
pub mod memory;
#[cfg(feature = "otel")]
mod otel;

pub use backend::{Backend, CancelOutcome, JobState, Spawned};
pub use builder::{JobBuilder, NewJob, spawn_many, spawn_many_deduplicated};
pub use error::{BoxError, Error, Result};
pub use executor::{Executor, IntoBackend, StandaloneBackend};
pub use ext::BackendExt;
pub use job::{Checkpoint, CurrentJob};
pub use ops::{cancel, clear, clear_all, commit, exists, migrate};
pub use payload::{DEFAULT_PAYLOAD_LIMIT, payload_limit, set_payload_limit};
pub use periodic::{MissedTicks, Schedule};
pub use registry::{JobRegistry, NamedJob};
pub use runner::{JobRunnerHandle, JobRunnerOptions};
pub use spawner::Spawner;
pub use uuid::Uuid;
