//! Notifications of concurrent calls on pooled connections, sent together,
//! as PostgreSQL commits together: one `NOTIFY` statement per round trip
//! for all the calls that finished meanwhile, instead of one per call.
//!
//! A spawn through a pool commits its insert on a connection of its own,
//! then wakes runners with a statement of its own (`job_notify.sql`; in the
//! insert's transaction it would take PostgreSQL's notification lock across
//! the commit's flush, and concurrent spawns would commit one at a time).
//! That second statement is a second round trip per spawn. Grouped, calls
//! to one database take turns in *rounds*:
//!
//! - with no round in flight, a call sends its own notifications at once
//!   (a lone spawn costs what it did);
//! - with one in flight, the first call to arrive becomes the leader of the
//!   next round, and waits for the one in flight to end;
//! - later calls add their notifications to that next round and return at
//!   once: they cost one round trip, not two.
//!
//! When a round ends, its leader hands the next round over to its leader,
//! who sends it (on its own connection) and so on; with no next round, the
//! group is empty again. No task is spawned, so no runtime is needed, and
//! every notification has a leader waiting to send it: none is left behind
//! when the calls stop coming.
//!
//! A leader whose call is dropped half-way hands its round over all the
//! same (from `Drop`). One that is neither polled nor dropped keeps the
//! next round's leader waiting, as it would keep its pooled connection
//! from everyone else.

use std::collections::BTreeSet;
use std::collections::hash_map::{Entry, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use futures::channel::oneshot;

/// The database a group's calls reach, as the driver names it (host, port,
/// user, database): notifications on any connection to it wake the same
/// listeners.
pub type GroupKey = String;

/// The rounds of each database with one in flight.
static GROUPS: LazyLock<Mutex<HashMap<GroupKey, Group>>> = LazyLock::new(Default::default);

fn groups() -> MutexGuard<'static, HashMap<GroupKey, Group>> {
    // A panic while holding the lock cannot leave a group half-changed:
    // every change below is a single assignment.
    GROUPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A database with a round in flight, and the round after it, if a call
/// has joined it.
#[derive(Default)]
struct Group {
    next: Option<NextRound>,
}

struct NextRound {
    payloads: BTreeSet<String>,
    /// Where the next round goes when the one in flight ends: to its
    /// leader, waiting on the other end.
    leader: oneshot::Sender<Vec<String>>,
}

/// What a call does with its notifications.
pub enum Turn {
    /// Send these now (no round was in flight), then [`Round::finish`].
    Lead(Round, Vec<String>),
    /// Wait for the round in flight to end: the next round then comes
    /// (this call's notifications and those that joined them), to be sent
    /// like a [`Turn::Lead`].
    LeadNext(Waiting),
    /// Nothing to do: the next round's leader will send them.
    Joined,
}

/// Adds `payloads` to `key`'s group and says what this call does next.
pub fn join(key: &GroupKey, payloads: Vec<String>) -> Turn {
    let mut groups = groups();
    match groups.entry(key.clone()) {
        Entry::Vacant(vacant) => {
            vacant.insert(Group::default());
            Turn::Lead(Round::new(key.clone()), payloads)
        }
        Entry::Occupied(mut occupied) => match &mut occupied.get_mut().next {
            next @ None => {
                let (leader, receiver) = oneshot::channel();
                *next = Some(NextRound {
                    payloads: payloads.into_iter().collect(),
                    leader,
                });
                Turn::LeadNext(Waiting {
                    key: key.clone(),
                    receiver: Some(receiver),
                })
            }
            Some(next) => {
                next.payloads.extend(payloads);
                Turn::Joined
            }
        },
    }
}

/// The leader of the next round, waiting for the round in flight to end.
/// Resolves to the next round, or to `None` if there was none to hand
/// over. Dropped before that, it gives its round back to the leader in
/// flight; dropped after the hand-over but before being polled again, it
/// ends the round it was handed (its notifications are lost: runners also
/// poll), so that the group never waits for a leader who is gone.
pub struct Waiting {
    key: GroupKey,
    receiver: Option<oneshot::Receiver<Vec<String>>>,
}

impl Future for Waiting {
    type Output = Option<(Round, Vec<String>)>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(receiver) = self.receiver.as_mut() else {
            return Poll::Ready(None);
        };
        let handed = ready!(Pin::new(receiver).poll(cx));
        // From here on the round is this call's: no await point until the
        // `Round` that finishes it exists.
        self.receiver = None;
        Poll::Ready(
            handed
                .ok()
                .map(|batch| (Round::new(self.key.clone()), batch)),
        )
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let Some(mut receiver) = self.receiver.take() else {
            return;
        };
        // Under the lock, so that the leader in flight cannot hand the
        // round over between the look and the drop: after it, its hand-over
        // fails and it sends the round itself.
        let handed = {
            let _groups = groups();
            let handed = receiver.try_recv();
            drop(receiver);
            handed
        };
        if let Ok(Some(lost)) = handed {
            warn_lost(lost.len());
            drop(Round::new(self.key.clone()));
        }
    }
}

fn warn_lost(notifications: usize) {
    tracing::warn!(
        notifications,
        "a spawn was dropped while its notifications were being sent; runners will find its jobs by polling"
    );
}

/// A round in flight, led by the holder, who ends it with
/// [`finish`](Self::finish) or by dropping it.
pub struct Round {
    key: GroupKey,
    finished: bool,
}

impl Round {
    fn new(key: GroupKey) -> Self {
        Self {
            key,
            finished: false,
        }
    }

    /// Ends the round after its notifications were sent: hands the next
    /// round to its leader, or empties the group. Returns the next round's
    /// notifications if its leader is gone (its call was dropped while it
    /// waited): the caller sends them, and finishes again.
    pub fn finish(&mut self) -> Option<Vec<String>> {
        let mut groups = groups();
        let Some(group) = groups.get_mut(&self.key) else {
            self.finished = true;
            return None;
        };
        match group.next.take() {
            None => {
                groups.remove(&self.key);
                self.finished = true;
                None
            }
            Some(next) => match next.leader.send(next.payloads.into_iter().collect()) {
                Ok(()) => {
                    self.finished = true;
                    None
                }
                // The group stays in flight: its round is now this one.
                Err(orphaned) => Some(orphaned),
            },
        }
    }
}

impl Drop for Round {
    fn drop(&mut self) {
        // Dropped half-way: the next round must still get its leader, and
        // notifications with no one to send them are dropped (runners also
        // poll).
        while !self.finished {
            if let Some(lost) = self.finish() {
                warn_lost(lost.len());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> GroupKey {
        format!("notify_group::tests::{name}")
    }

    fn payloads(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn lead(key: &GroupKey, names: &[&str]) -> (Round, Vec<String>) {
        match join(key, payloads(names)) {
            Turn::Lead(round, batch) => (round, batch),
            _ => panic!("expected to lead"),
        }
    }

    fn lead_next(key: &GroupKey, names: &[&str]) -> Waiting {
        match join(key, payloads(names)) {
            Turn::LeadNext(waiting) => waiting,
            _ => panic!("expected to lead the next round"),
        }
    }

    fn handed(waiting: Waiting) -> (Round, Vec<String>) {
        futures::executor::block_on(waiting).expect("handed over")
    }

    #[test]
    fn a_lone_call_leads_and_leaves_the_group_empty() {
        let key = key("lone");
        let (mut round, sent) = lead(&key, &["a"]);
        assert_eq!(sent, ["a"]);
        assert!(round.finish().is_none());
        assert!(!groups().contains_key(&key));
        // The next call leads again.
        let (mut round, _) = lead(&key, &["b"]);
        round.finish();
    }

    #[test]
    fn calls_during_a_round_join_the_next_one_whose_leader_gets_them_all() {
        let key = key("rounds");
        let (mut first, _) = lead(&key, &["a"]);
        let waiting = lead_next(&key, &["b"]);
        assert!(matches!(join(&key, payloads(&["c", "b"])), Turn::Joined));
        assert!(matches!(join(&key, payloads(&["d"])), Turn::Joined));
        assert!(first.finish().is_none());
        let (mut second, next) = handed(waiting);
        assert_eq!(next, ["b", "c", "d"]);
        // The group is in flight until the next round's leader finishes:
        // a call now leads the round after it.
        let waiting = lead_next(&key, &["e"]);
        assert!(second.finish().is_none());
        let (mut third, next) = handed(waiting);
        assert_eq!(next, ["e"]);
        assert!(third.finish().is_none());
        assert!(!groups().contains_key(&key));
    }

    #[test]
    fn a_round_whose_leader_is_gone_goes_back_to_the_sender() {
        let key = key("orphaned");
        let (mut round, _) = lead(&key, &["a"]);
        drop(lead_next(&key, &["b"]));
        assert_eq!(round.finish(), Some(payloads(&["b"])));
        assert!(round.finish().is_none());
        assert!(!groups().contains_key(&key));
    }

    #[test]
    fn a_dropped_round_still_hands_over() {
        let key = key("dropped");
        let (round, _) = lead(&key, &["a"]);
        let waiting = lead_next(&key, &["b"]);
        drop(round);
        let (mut next, batch) = handed(waiting);
        assert_eq!(batch, ["b"]);
        assert!(next.finish().is_none());
        assert!(!groups().contains_key(&key));
    }

    /// Found by `dropped_calls_leave_nobody_waiting`: a waiting leader
    /// dropped after its round was handed over, before it looked, left the
    /// group in flight with nobody to end it, and every later call waited
    /// for ever.
    #[test]
    fn a_leader_dropped_after_the_hand_over_ends_its_round() {
        let key = key("dropped after hand-over");
        let (mut round, _) = lead(&key, &["a"]);
        let waiting = lead_next(&key, &["b"]);
        assert!(round.finish().is_none());
        drop(waiting);
        assert!(!groups().contains_key(&key));
        let (mut round, _) = lead(&key, &["c"]);
        assert!(round.finish().is_none());
    }

    /// What the calls of a group do, in any order.
    #[derive(Clone, Debug)]
    enum Step {
        /// A call joins with a notification of its own.
        Join,
        /// A leader sends its round and finishes it.
        Send(usize),
        /// A waiting leader looks whether its round was handed over.
        Wake(usize),
        /// A waiting leader's call is dropped.
        DropWaiting(usize),
        /// A sending leader's call is dropped half-way.
        DropSending(usize),
    }

    fn steps(drops: bool) -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
        use proptest::prelude::*;
        let step = prop_oneof![
            3 => Just(Step::Join),
            2 => any::<usize>().prop_map(Step::Send),
            2 => any::<usize>().prop_map(Step::Wake),
            (if drops { 1 } else { 0 }) => any::<usize>().prop_map(Step::DropWaiting),
            (if drops { 1 } else { 0 }) => any::<usize>().prop_map(Step::DropSending),
        ];
        proptest::collection::vec(step, 0..60)
    }

    /// Runs `steps` on a fresh group, then lets every call still in it go
    /// on until none is left. Returns what was joined, what was sent, and
    /// what the dropped senders were sending.
    fn simulate(name: &str, steps: &[Step]) -> (Vec<String>, Vec<String>, Vec<String>) {
        let key = key(name);
        groups().remove(&key);
        let mut joined = Vec::new();
        let mut sent = Vec::new();
        let mut dropped = Vec::new();
        let mut sending: Vec<(Round, Vec<String>)> = Vec::new();
        let mut waiting: Vec<Waiting> = Vec::new();
        let send = |sending: &mut Vec<(Round, Vec<String>)>, i: usize, sent: &mut Vec<String>| {
            let (round, batch) = &mut sending[i];
            sent.append(batch);
            match round.finish() {
                None => {
                    sending.remove(i);
                }
                Some(orphaned) => *batch = orphaned,
            }
        };
        let wake =
            |waiting: &mut Vec<Waiting>, sending: &mut Vec<(Round, Vec<String>)>, i: usize| {
                if let Some(handed) = futures::FutureExt::now_or_never(&mut waiting[i]) {
                    waiting.remove(i);
                    sending.extend(handed);
                }
            };
        for step in steps {
            match *step {
                Step::Join => {
                    let payload = format!("p{}", joined.len());
                    joined.push(payload.clone());
                    match join(&key, vec![payload]) {
                        Turn::Lead(round, batch) => sending.push((round, batch)),
                        Turn::LeadNext(next) => waiting.push(next),
                        Turn::Joined => {}
                    }
                }
                Step::Send(i) if !sending.is_empty() => {
                    let i = i % sending.len();
                    send(&mut sending, i, &mut sent)
                }
                Step::Wake(i) if !waiting.is_empty() => {
                    let i = i % waiting.len();
                    wake(&mut waiting, &mut sending, i)
                }
                Step::DropWaiting(i) if !waiting.is_empty() => {
                    waiting.remove(i % waiting.len());
                }
                Step::DropSending(i) if !sending.is_empty() => {
                    let (round, batch) = sending.remove(i % sending.len());
                    dropped.extend(batch);
                    drop(round);
                }
                _ => {}
            }
        }
        // The calls stop coming: those in the group go on to the end.
        for _ in 0..=joined.len() * 2 {
            if sending.is_empty() && waiting.is_empty() {
                break;
            }
            if !sending.is_empty() {
                send(&mut sending, 0, &mut sent);
            }
            for i in (0..waiting.len()).rev() {
                wake(&mut waiting, &mut sending, i);
            }
        }
        assert!(
            sending.is_empty() && waiting.is_empty(),
            "calls left waiting: {} sending, {} waiting",
            sending.len(),
            waiting.len()
        );
        assert!(!groups().contains_key(&key), "the group is left in flight");
        (joined, sent, dropped)
    }

    proptest::proptest! {
        /// With no call dropped, every notification is sent, once.
        #[test]
        fn every_notification_is_sent_once(steps in steps(false)) {
            let (joined, mut sent, _) = simulate("every", &steps);
            sent.sort();
            let mut joined = joined;
            joined.sort();
            proptest::prop_assert_eq!(sent, joined);
        }

        /// Calls dropped at any point leave no call waiting and no group in
        /// flight (`simulate` checks), send nothing twice, and lose nothing
        /// but what a dropped call was sending or had handed to a dropped
        /// waiter's round.
        #[test]
        fn dropped_calls_leave_nobody_waiting(steps in steps(true)) {
            let (joined, sent, _) = simulate("dropped", &steps);
            let unique: std::collections::BTreeSet<_> = sent.iter().collect();
            proptest::prop_assert_eq!(unique.len(), sent.len());
            for payload in &sent {
                proptest::prop_assert!(joined.contains(payload));
            }
            let no_drops = !steps
                .iter()
                .any(|s| matches!(s, Step::DropWaiting(_) | Step::DropSending(_)));
            if no_drops {
                proptest::prop_assert_eq!(sent.len(), joined.len());
            }
        }
    }
}
