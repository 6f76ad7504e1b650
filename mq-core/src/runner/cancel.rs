//! The signal that tells a running job to stop: it was cancelled
//! ([`cancel`](crate::cancel)), timed out, or its runner no longer holds
//! it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::FutureExt;
use futures::channel::oneshot;
use futures::future::Shared;

/// Fired once; any number of tasks may wait for it. Built from a oneshot
/// channel whose receiver is shared, so that no waker list is kept here.
/// The channel is made only when someone first waits: most jobs are never
/// waited on, and a runner makes one of these per job it runs.
#[derive(Default)]
pub(crate) struct CancelSignal {
    fired: AtomicBool,
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    sender: Option<oneshot::Sender<()>>,
    receiver: Option<Shared<oneshot::Receiver<()>>>,
}

impl CancelSignal {
    pub fn new() -> Self {
        Self::default()
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fires the signal; later calls do nothing.
    pub fn fire(&self) {
        // Set under the lock that `receiver` checks it under: a wait that
        // starts now either sees the flag or has made the channel that is
        // sent on here.
        let sender = {
            let mut waiting = self.waiting();
            self.fired.store(true, Ordering::SeqCst);
            waiting.sender.take()
        };
        if let Some(sender) = sender {
            let _ = sender.send(());
        }
    }

    pub fn is_fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// The receiver to wait on, made on the first call; `None` once fired.
    fn receiver(&self) -> Option<Shared<oneshot::Receiver<()>>> {
        let mut waiting = self.waiting();
        if self.fired.load(Ordering::SeqCst) {
            return None;
        }
        let Waiting { sender, receiver } = &mut *waiting;
        Some(
            receiver
                .get_or_insert_with(|| {
                    let (tx, rx) = oneshot::channel();
                    *sender = Some(tx);
                    rx.shared()
                })
                .clone(),
        )
    }

    /// Completes once the signal fires, or once it is dropped unfired.
    pub fn fired_or_dropped(&self) -> impl Future<Output = ()> + Send + 'static {
        let receiver = self.receiver();
        async move {
            if let Some(receiver) = receiver {
                let _ = receiver.await;
            }
        }
    }

    /// Completes once the signal fires.
    pub fn fired(&self) -> impl Future<Output = ()> + Send + 'static {
        let receiver = self.receiver();
        async move {
            if let Some(receiver) = receiver
                && receiver.await.is_err()
            {
                // The sender went without firing: the attempt is gone, so
                // nothing will ever fire it.
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_waiter_sees_one_firing() {
        let signal = CancelSignal::new();
        let (first, second) = (signal.fired(), signal.fired());
        assert!(!signal.is_fired());
        assert!(signal.fired().now_or_never().is_none());
        signal.fire();
        signal.fire();
        assert!(signal.is_fired());
        first.await;
        second.await;
        signal.fired().await;
    }

    #[tokio::test]
    async fn a_dropped_signal_ends_only_the_waits_that_allow_it() {
        let signal = CancelSignal::new();
        let (fired, dropped) = (signal.fired(), signal.fired_or_dropped());
        drop(signal);
        dropped.await;
        assert!(fired.now_or_never().is_none());
    }

    #[tokio::test]
    async fn a_wait_that_starts_after_the_firing_ends_at_once() {
        let signal = CancelSignal::new();
        signal.fire();
        signal.fired().await;
        signal.fired_or_dropped().await;
    }
}
