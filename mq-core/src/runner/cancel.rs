//! The signal that tells a running job to stop: it was cancelled
//! ([`cancel`](crate::cancel)), or its runner no longer holds it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::FutureExt;
use futures::channel::oneshot;
use futures::future::Shared;

/// Fired once; any number of tasks may wait for it. Built from a oneshot
/// channel whose receiver is shared, so that no waker list is kept here.
pub(crate) struct CancelSignal {
    fired: AtomicBool,
    sender: Mutex<Option<oneshot::Sender<()>>>,
    receiver: Shared<oneshot::Receiver<()>>,
}

impl CancelSignal {
    pub fn new() -> Self {
        let (sender, receiver) = oneshot::channel();
        Self {
            fired: AtomicBool::new(false),
            sender: Mutex::new(Some(sender)),
            receiver: receiver.shared(),
        }
    }

    /// Fires the signal; later calls do nothing.
    pub fn fire(&self) {
        self.fired.store(true, Ordering::SeqCst);
        let sender = self
            .sender
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(sender) = sender {
            let _ = sender.send(());
        }
    }

    pub fn is_fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// Completes once the signal fires, or once it is dropped unfired.
    pub fn fired_or_dropped(&self) -> impl Future<Output = ()> + Send + 'static {
        let receiver = self.receiver.clone();
        async move {
            let _ = receiver.await;
        }
    }

    /// Completes once the signal fires.
    pub fn fired(&self) -> impl Future<Output = ()> + Send + 'static {
        let receiver = self.receiver.clone();
        async move {
            if receiver.await.is_err() {
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
}
