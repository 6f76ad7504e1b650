//! The async-std runtime for mq: a [`Spawner`] that runs the job runner's
//! tasks on async-std's global executor.
//!
//! An application on async-std needs no tokio runtime: with the sqlx driver,
//! sqlx runs on async-std through its own `runtime-async-std` feature; with
//! the tokio-postgres driver, connections go over async-std's sockets (see
//! `mq_tokio_postgres::AsyncStdConnect`).
//!
//! async-std itself is no longer developed (its authors recommend `smol`);
//! this crate exists for applications that already run on it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use mq_core::Spawner;

/// Spawns onto async-std's global executor, which starts itself on first
/// use: unlike tokio there is no runtime to enter, so this spawner works
/// from any thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct AsyncStdSpawner;

impl AsyncStdSpawner {
    /// The spawner.
    pub fn new() -> Self {
        Self
    }
}

impl Spawner for AsyncStdSpawner {
    fn spawn(&self, future: BoxFuture<'static, ()>) {
        // Dropping async-std's join handle detaches the task.
        drop(async_std::task::spawn(future));
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        async_std::task::sleep(duration).boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use mq_core::spawner::{spawn_with_handle, timeout};

    use super::*;

    #[async_std::test]
    async fn spawned_tasks_run_and_sleep_waits() {
        let spawner = AsyncStdSpawner::new();
        let start = Instant::now();
        let output = spawn_with_handle(&spawner, async move {
            AsyncStdSpawner.sleep(Duration::from_millis(20)).await;
            42
        })
        .await;
        assert_eq!(output, Some(42));
        assert!(start.elapsed() >= Duration::from_millis(20));
    }

    #[async_std::test]
    async fn timeout_gives_up_on_a_future_that_never_ends() {
        let spawner = AsyncStdSpawner::new();
        let never = futures::future::pending::<()>();
        assert_eq!(
            timeout(&spawner, Duration::from_millis(10), never).await,
            None
        );
        let now = async { 7 };
        assert_eq!(
            timeout(&spawner, Duration::from_secs(10), now).await,
            Some(7)
        );
    }

    #[test]
    fn spawns_from_outside_any_runtime() {
        let (tx, rx) = std::sync::mpsc::channel();
        AsyncStdSpawner.spawn(
            async move {
                tx.send(()).unwrap();
            }
            .boxed(),
        );
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
}
