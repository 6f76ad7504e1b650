//! The channels a runner knows to have ready work, and where in each the
//! unclaimed jobs begin: what its targeted claims ask for
//! ([`ClaimTarget`]).
//!
//! A claim over all channels walks the index from each channel's front,
//! past the dead entries earlier claims left there, which vacuum cannot
//! remove while the xmin horizon is held back. A runner that knows where
//! the live jobs begin claims from there instead. It learns it from three
//! sources: notifications of new jobs, which carry the place in the ready
//! queue of the first ([`Wakeup::Queued`](crate::backend::Wakeup)); its
//! own claims, after which a channel's unclaimed jobs begin past the last
//! job claimed; and its completions of ordered jobs, whose successors take
//! places after them.
//!
//! Jobs that become ready any other way (a retry, a lapsed lease, a delay
//! ending) or that a targeted claim passes over (a transaction that
//! committed after a later one) are found by the claims over all channels
//! that the claim loop still makes, less often when they are slow.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::backend::{ChannelKey, ClaimTarget, ClaimedJob};
use crate::ready_queue::priority_of;

/// At most this many channels are kept; past it, the oldest are forgotten
/// and found again by a claim over all channels.
const MAX_HOT_CHANNELS: usize = 4096;

/// At most this many targets (channel and priority) are asked of one claim.
pub(crate) const MAX_TARGETS: usize = 64;

/// Where a channel's unclaimed jobs begin, for each priority it is known
/// to have ready work of, highest priority first.
type Starts = BTreeMap<Reverse<i16>, i64>;

/// The channels with ready work, in the order the next claims serve them.
#[derive(Debug, Default)]
pub(crate) struct HotChannels {
    /// Where each channel's unclaimed jobs begin, per priority.
    from: HashMap<ChannelKey, Starts>,
    /// The channels of `from`, each once, next to be served first.
    order: VecDeque<ChannelKey>,
    /// Channels were forgotten for want of room.
    overflowed: bool,
}

impl HotChannels {
    /// Whether no channel is known to have ready work.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Whether channels were forgotten since the last call (a claim over
    /// all channels should find them).
    pub fn take_overflowed(&mut self) -> bool {
        std::mem::take(&mut self.overflowed)
    }

    /// Jobs became ready on `channel` from `ready_seq` on (among the jobs
    /// of that place's priority).
    pub fn queued(&mut self, channel: ChannelKey, ready_seq: i64) {
        let priority = Reverse(priority_of(ready_seq));
        if let Some(starts) = self.from.get_mut(&channel) {
            let from = starts.entry(priority).or_insert(ready_seq);
            *from = (*from).min(ready_seq);
            return;
        }
        if self.order.len() >= MAX_HOT_CHANNELS
            && let Some(oldest) = self.order.pop_front()
        {
            self.from.remove(&oldest);
            self.overflowed = true;
        }
        self.from
            .insert(channel.clone(), Starts::from([(priority, ready_seq)]));
        self.order.push_back(channel);
    }

    /// The channels to claim from next, each from where its unclaimed jobs
    /// begin, its higher priorities first.
    pub fn targets(&self) -> Vec<ClaimTarget> {
        self.order
            .iter()
            .flat_map(|channel| {
                self.from[channel]
                    .iter()
                    .map(|(Reverse(priority), from)| ClaimTarget {
                        channel: channel.clone(),
                        priority: *priority,
                        from_ready_seq: *from,
                    })
            })
            .take(MAX_TARGETS)
            .collect()
    }

    /// Takes note of a claim's jobs: each channel's unclaimed jobs of a
    /// priority begin past the last one claimed. `targets`: what a targeted
    /// claim asked for (`None` for a claim over all channels). `full`: the
    /// claim stopped at its limit, so its channels may hold more; a claim
    /// that did not took everything its targets held.
    pub fn claimed(&mut self, targets: Option<&[ClaimTarget]>, jobs: &[ClaimedJob], full: bool) {
        for job in jobs {
            let channel = job.channel();
            let priority = Reverse(priority_of(job.ready_seq));
            let past = job.ready_seq.saturating_add(1);
            match self.from.get_mut(&channel) {
                Some(starts) => match starts.get_mut(&priority) {
                    Some(from) => *from = (*from).max(past),
                    None if full => {
                        starts.insert(priority, past);
                    }
                    None => {}
                },
                None if full => self.queued(channel, past),
                None => {}
            }
        }
        if let Some(targets) = targets {
            if !full {
                for target in targets {
                    self.forget(target);
                }
                return;
            }
            // Next time, first serve the channels after the last one served
            // (jobs come back in no particular order: go by the targets').
            let served = |target: &&ClaimTarget| {
                jobs.iter().any(|job| {
                    job.channel_name == target.channel.name
                        && job.channel_args == target.channel.args
                })
            };
            if let Some(last) = targets.iter().rev().find(served)
                && let Some(at) = self.order.iter().position(|c| *c == last.channel)
            {
                self.order.rotate_left(at + 1);
            }
        }
    }

    /// Forgets a target that gave everything it held.
    fn forget(&mut self, target: &ClaimTarget) {
        let Some(starts) = self.from.get_mut(&target.channel) else {
            return;
        };
        starts.remove(&Reverse(target.priority));
        if starts.is_empty() {
            self.from.remove(&target.channel);
            self.order.retain(|c| *c != target.channel);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn channel(name: &str) -> ChannelKey {
        ChannelKey {
            name: name.to_owned(),
            args: String::new(),
        }
    }

    fn job(name: &str, ready_seq: i64) -> ClaimedJob {
        ClaimedJob::new(
            uuid::Uuid::nil(),
            1,
            1,
            "j".to_owned(),
            name.to_owned(),
            String::new(),
            false,
            0,
            Duration::ZERO,
            None,
            None,
        )
        .with_ready_seq(ready_seq)
    }

    #[test]
    fn a_notification_lowers_the_start_and_a_claim_raises_it() {
        let mut hot = HotChannels::default();
        hot.queued(channel("a"), 10);
        hot.queued(channel("a"), 7);
        assert_eq!(hot.targets()[0].from_ready_seq, 7);
        let targets = hot.targets();
        hot.claimed(Some(&targets), &[job("a", 7), job("a", 8)], true);
        assert_eq!(hot.targets()[0].from_ready_seq, 9);
        // A job notified late, below the start, lowers it again.
        hot.queued(channel("a"), 5);
        assert_eq!(hot.targets()[0].from_ready_seq, 5);
    }

    #[test]
    fn a_short_targeted_claim_forgets_its_channels() {
        let mut hot = HotChannels::default();
        hot.queued(channel("a"), 1);
        hot.queued(channel("b"), 1);
        let targets = hot.targets();
        hot.claimed(Some(&targets), &[job("a", 1)], false);
        assert!(hot.is_empty());
    }

    #[test]
    fn a_full_claim_rotates_past_the_last_channel_served() {
        let mut hot = HotChannels::default();
        for name in ["a", "b", "c"] {
            hot.queued(channel(name), 1);
        }
        let targets = hot.targets();
        hot.claimed(Some(&targets), &[job("a", 1), job("b", 2)], true);
        let next: Vec<String> = hot.targets().into_iter().map(|t| t.channel.name).collect();
        assert_eq!(next, ["c", "a", "b"]);
    }

    #[test]
    fn a_full_claim_over_all_channels_makes_its_channels_hot() {
        let mut hot = HotChannels::default();
        hot.claimed(None, &[job("a", 4)], false);
        assert!(hot.is_empty(), "a short claim took everything");
        hot.claimed(None, &[job("a", 4), job("b", 9)], true);
        let targets = hot.targets();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].from_ready_seq, 5);
        assert_eq!(targets[1].from_ready_seq, 10);
    }

    #[test]
    fn each_priority_has_its_own_start_and_the_highest_is_asked_first() {
        use crate::ready_queue::place;
        let mut hot = HotChannels::default();
        hot.queued(channel("a"), place(0, 100));
        hot.queued(channel("b"), place(0, 50));
        hot.queued(channel("a"), place(10, 120));
        let asked = |hot: &HotChannels| -> Vec<(String, i16, i64)> {
            hot.targets()
                .into_iter()
                .map(|t| (t.channel.name, t.priority, t.from_ready_seq))
                .collect()
        };
        assert_eq!(
            asked(&hot),
            [
                ("a".to_owned(), 10, place(10, 120)),
                ("a".to_owned(), 0, 100),
                ("b".to_owned(), 0, 50),
            ]
        );
        // Claiming the urgent job moves only its priority's start; the
        // start of priority 0 stays past the jobs claimed there before.
        let targets = hot.targets();
        hot.claimed(Some(&targets), &[job("a", place(10, 120))], true);
        assert_eq!(
            asked(&hot)[0..2],
            [
                ("b".to_owned(), 0, 50),
                ("a".to_owned(), 10, place(10, 121)),
            ]
        );
        // A short claim forgets only the targets it was given.
        hot.claimed(Some(&targets[..1]), &[], false);
        assert_eq!(
            asked(&hot),
            [("b".to_owned(), 0, 50), ("a".to_owned(), 0, 100)]
        );
    }

    #[test]
    fn too_many_channels_forget_the_oldest_and_say_so() {
        let mut hot = HotChannels::default();
        for n in 0..=MAX_HOT_CHANNELS {
            hot.queued(channel(&n.to_string()), 1);
        }
        assert!(hot.take_overflowed());
        assert!(!hot.take_overflowed());
        assert_eq!(hot.targets()[0].channel.name, "1");
        assert_eq!(hot.targets().len(), MAX_TARGETS);
    }
}
