//! The tokio runtime for mq: a [`Spawner`] that runs the job runner's tasks
//! on tokio.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use mq_core::Spawner;

/// Spawns onto the tokio runtime the caller is in.
///
/// Tasks go to the runtime of the current tokio context when one exists;
/// otherwise to the runtime captured when the spawner was created with
/// [`TokioSpawner::with_handle`]. [`TokioSpawner::new`] outside a runtime
/// gives a spawner that panics on use, as `tokio::spawn` would.
#[derive(Clone, Debug, Default)]
pub struct TokioSpawner {
    handle: Option<tokio::runtime::Handle>,
}

impl TokioSpawner {
    /// A spawner for the runtime the caller is in at the time of each spawn.
    pub fn new() -> Self {
        Self { handle: None }
    }

    /// A spawner bound to a runtime, usable from any thread.
    pub fn with_handle(handle: tokio::runtime::Handle) -> Self {
        Self {
            handle: Some(handle),
        }
    }

    /// Whether the calling thread is inside a tokio runtime.
    pub fn is_available() -> bool {
        tokio::runtime::Handle::try_current().is_ok()
    }
}

impl Spawner for TokioSpawner {
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        match (&self.handle, tokio::runtime::Handle::try_current()) {
            (_, Ok(current)) => drop(current.spawn(future)),
            (Some(handle), Err(_)) => drop(handle.spawn(future)),
            (None, Err(_)) => drop(tokio::spawn(future)),
        }
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        tokio::time::sleep(duration).boxed()
    }
}
