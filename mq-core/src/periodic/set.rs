//! A registry's schedules, shared by its clones and the runners built from
//! it, so that schedules added or removed while runners run take effect at
//! once.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use futures::channel::oneshot;

use super::Schedule;

#[derive(Default)]
pub(crate) struct ScheduleSet {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    schedules: BTreeMap<String, Schedule>,
    /// Bumped by every change.
    version: u64,
    waiters: Vec<oneshot::Sender<()>>,
}

impl ScheduleSet {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Plain data, consistent after any panic.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds or replaces the schedule of its name.
    pub(crate) fn insert(&self, schedule: Schedule) {
        let mut inner = self.lock();
        inner.schedules.insert(schedule.name().to_owned(), schedule);
        inner.changed();
    }

    /// Removes the schedule named `name`; whether there was one.
    pub(crate) fn remove(&self, name: &str) -> bool {
        let mut inner = self.lock();
        let removed = inner.schedules.remove(name).is_some();
        if removed {
            inner.changed();
        }
        removed
    }

    /// The schedules, by name, and the version they are at.
    pub(crate) fn snapshot(&self) -> (u64, BTreeMap<String, Schedule>) {
        let inner = self.lock();
        (inner.version, inner.schedules.clone())
    }

    /// Resolves at the first change after version `seen` (at once if there
    /// was one already).
    pub(crate) fn changed_since(&self, seen: u64) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let mut inner = self.lock();
        if inner.version == seen {
            inner.waiters.push(tx);
        } else {
            let _ = tx.send(());
        }
        rx
    }
}

impl Inner {
    fn changed(&mut self) {
        self.version += 1;
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(());
        }
    }
}
