//! The runtime boundary: spawning tasks and sleeping.
//!
//! Nothing else in mq knows which async runtime it runs on. Join handles and
//! timeouts are derived here from the two primitives, so a runtime crate
//! implements only [`Spawner`].

use std::future::Future;
use std::time::Duration;

use futures::FutureExt;
use futures::channel::oneshot;
use futures::future::{BoxFuture, Either};

/// What the runner needs from an async runtime.
pub trait Spawner: Send + Sync + 'static {
    /// Runs `future` in the background until it completes.
    fn spawn(&self, future: BoxFuture<'static, ()>);

    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// Spawns `future` and returns a future of its output. If the task is lost
/// (the runtime shut down, or the task panicked) the returned future
/// resolves to `None`.
pub fn spawn_with_handle<T: Send + 'static>(
    spawner: &dyn Spawner,
    future: impl Future<Output = T> + Send + 'static,
) -> impl Future<Output = Option<T>> + Send + 'static {
    let (tx, rx) = oneshot::channel();
    spawner.spawn(
        async move {
            let _ = tx.send(future.await);
        }
        .boxed(),
    );
    rx.map(Result::ok)
}

/// Runs `future` for at most `duration`; `None` if the time ran out first.
pub async fn timeout<T>(
    spawner: &dyn Spawner,
    duration: Duration,
    future: impl Future<Output = T>,
) -> Option<T> {
    let future = std::pin::pin!(future);
    match futures::future::select(future, spawner.sleep(duration)).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(((), _)) => None,
    }
}
