//! The limited channels a runner claims from with limited claims
//! (`Backend::job_claim_limited`), when each is worth a claim, and where
//! to claim from.
//!
//! Ordinary claims pass limited channels over, so a runner claims them
//! apart, one limited claim per channel. A claim that took all it asked
//! for may have left more: the channel is claimed again at once. One that
//! took less found the channel at its limit or drained, and the channel
//! waits for something that may have changed that: a notification naming
//! it, one of its jobs settled by this runner (a completion, failure or
//! release written, which frees a slot), or the poll timer (for slots
//! freed by other processes' runners, and rate windows moving on).
//!
//! Where from: like the ordinary claims (see [`HotChannels`]), a limited
//! claim starts where each argument's unclaimed jobs begin when the runner
//! knows it (from notifications and its own claims), which keeps it past
//! the dead index entries that claims leave while the xmin horizon is held
//! back. Unlike them, a limited claim that comes back short does not say
//! that its targets are drained (the limit may have stopped it), so the
//! places are kept: each is where that argument's unclaimed jobs begin
//! whatever happened since, as jobs that become ready again take new
//! places at the back. What the places miss (an argument no notification
//! named, a job of a transaction that committed late) is found by claims
//! from the front of every argument, made when something says work may be
//! anywhere (the poll timer, a wake-up without a place), and spaced by
//! their cost as the claims over all channels are.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::hot_channels::HotChannels;
use crate::backend::{ChannelKey, ClaimTarget, ClaimedJob};

#[derive(Debug)]
struct Channel {
    /// Worth a limited claim at the next turn.
    due: bool,
    /// Worth a claim from the front of every argument, once its spacing
    /// allows.
    front_wanted: bool,
    /// When a claim from the front may start.
    front_not_before: Instant,
    /// The arguments served last by a claim from the front, so that the
    /// next serves the ones after them first.
    after: Option<String>,
    /// Where the arguments' unclaimed jobs begin, as far as known.
    places: HotChannels,
    /// What claims from the places take (a running average).
    targeted_took: Option<Duration>,
}

impl Default for Channel {
    fn default() -> Self {
        Self {
            due: true,
            front_wanted: true,
            front_not_before: Instant::now(),
            after: None,
            places: HotChannels::default(),
            targeted_took: None,
        }
    }
}

/// Where a limited claim takes its jobs from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LimitedFrom {
    /// From these places on.
    Places(Vec<ClaimTarget>),
    /// From the front of every argument, after the arguments served last.
    Front { after: Option<String> },
}

/// The limited channels known to a runner.
#[derive(Debug)]
pub(crate) struct LimitedChannels {
    channels: BTreeMap<String, Channel>,
    /// When to read the limits again.
    refresh_at: Instant,
}

impl Default for LimitedChannels {
    fn default() -> Self {
        Self {
            channels: BTreeMap::new(),
            refresh_at: Instant::now(),
        }
    }
}

impl LimitedChannels {
    /// Whether the limits should be read again.
    pub fn refresh_due(&self) -> bool {
        Instant::now() >= self.refresh_at
    }

    /// The limits were read: these channel names are limited. Every one
    /// is worth a claim; a read again is due after `every`.
    pub fn refreshed(&mut self, names: impl IntoIterator<Item = String>, every: Duration) {
        let mut channels = BTreeMap::new();
        for name in names {
            let mut channel = self.channels.remove(&name).unwrap_or_default();
            channel.due = true;
            channels.insert(name, channel);
        }
        self.channels = channels;
        self.refresh_at = Instant::now() + every;
    }

    /// Reading the limits failed: try again after `after`.
    pub fn refresh_failed(&mut self, after: Duration) {
        self.refresh_at = Instant::now() + after;
    }

    /// Asks for a read of the limits at the next turn.
    pub fn refresh_now(&mut self) {
        self.refresh_at = Instant::now();
    }

    /// Work may be anywhere in every limited channel.
    pub fn all_due(&mut self) {
        for channel in self.channels.values_mut() {
            channel.due = true;
            channel.front_wanted = true;
        }
    }

    /// Work may be anywhere in `name`, if it is limited.
    pub fn due_anywhere(&mut self, name: &str) {
        if let Some(channel) = self.channels.get_mut(name) {
            channel.due = true;
            channel.front_wanted = true;
        }
    }

    /// A slot of `name` may have been freed, if it is limited.
    pub fn due(&mut self, name: &str) {
        if let Some(channel) = self.channels.get_mut(name) {
            channel.due = true;
        }
    }

    /// Jobs became ready on `channel` from `ready_seq` on. Returns whether
    /// its name is limited (the place is then kept here).
    pub fn queued(&mut self, channel: &ChannelKey, ready_seq: i64) -> bool {
        let Some(limited) = self.channels.get_mut(&channel.name) else {
            return false;
        };
        limited.due = true;
        limited.places.queued(channel.clone(), ready_seq);
        if limited.places.take_overflowed() {
            limited.front_wanted = true;
        }
        true
    }

    /// The limited channels worth a claim now, among those `wanted`, and
    /// where to claim each from: the places known, unless a claim from
    /// the front is wanted and its spacing allows it, or none is known.
    /// A channel that knows no place and must wait for its spacing is
    /// left out.
    pub fn to_claim(&self, wanted: impl Fn(&str) -> bool) -> Vec<(String, LimitedFrom)> {
        let now = Instant::now();
        self.channels
            .iter()
            .filter(|(name, channel)| channel.due && wanted(name))
            .filter_map(|(name, channel)| {
                let front_allowed = now >= channel.front_not_before;
                let from = if (channel.front_wanted || channel.places.is_empty()) && front_allowed {
                    LimitedFrom::Front {
                        after: channel.after.clone(),
                    }
                } else if !channel.places.is_empty() {
                    LimitedFrom::Places(channel.places.targets())
                } else {
                    return None;
                };
                Some((name.clone(), from))
            })
            .collect()
    }

    /// How long until a channel waiting for its spacing may claim from the
    /// front, if one is.
    pub fn until_front_claim(&self) -> Option<Duration> {
        let now = Instant::now();
        self.channels
            .values()
            .filter(|channel| channel.due && channel.places.is_empty())
            .map(|channel| channel.front_not_before.saturating_duration_since(now))
            .min()
    }

    /// A limited claim of up to `asked` jobs of `name`, from `from`, took
    /// `jobs` in `took`.
    pub fn claimed(
        &mut self,
        name: &str,
        from: &LimitedFrom,
        jobs: &[ClaimedJob],
        asked: usize,
        took: Duration,
    ) {
        let Some(channel) = self.channels.get_mut(name) else {
            return;
        };
        channel.due = jobs.len() >= asked;
        // Places past the jobs taken, whether or not more are left.
        match from {
            LimitedFrom::Places(targets) => {
                channel.places.claimed(Some(targets), jobs, true);
                channel.targeted_took = Some(match channel.targeted_took {
                    Some(average) => average.mul_f64(0.8) + took.mul_f64(0.2),
                    None => took,
                });
            }
            LimitedFrom::Front { .. } => {
                channel.places.claimed(None, jobs, true);
                channel.front_wanted = false;
                channel.front_not_before = Instant::now()
                    + super::claim_loop::full_claim_spacing(took, channel.targeted_took);
                if let Some(last) = jobs.iter().map(|job| &job.channel_args).max() {
                    channel.after = Some(last.clone());
                }
            }
        }
        if channel.places.take_overflowed() {
            channel.front_wanted = true;
        }
    }

    /// A limited claim of `name` failed: leave it to the poll timer.
    pub fn failed(&mut self, name: &str) {
        if let Some(channel) = self.channels.get_mut(name) {
            channel.due = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(args: &str, ready_seq: i64) -> ClaimedJob {
        ClaimedJob::new(
            uuid::Uuid::now_v7(),
            1,
            1,
            "j".to_owned(),
            "api".to_owned(),
            args.to_owned(),
            false,
            0,
            Duration::ZERO,
            None,
            None,
        )
        .with_ready_seq(ready_seq)
    }

    fn place(name: &str, args: &str, from: i64) -> ClaimTarget {
        ClaimTarget {
            channel: ChannelKey {
                name: name.to_owned(),
                args: args.to_owned(),
            },
            priority: 0,
            from_ready_seq: from,
        }
    }

    const LONG: Duration = Duration::from_secs(3600);

    #[test]
    fn a_channel_is_claimed_again_only_when_something_may_have_changed() {
        let mut limited = LimitedChannels::default();
        assert!(limited.refresh_due());
        limited.refreshed(["api".to_owned()], Duration::from_secs(60));
        assert!(!limited.refresh_due());
        let all = |_: &str| true;
        let front = LimitedFrom::Front { after: None };
        assert_eq!(
            limited.to_claim(all),
            vec![("api".to_owned(), front.clone())]
        );
        // A full claim: again at once, from the places it learned.
        limited.claimed(
            "api",
            &front,
            &[job("a", 7), job("c", 9)],
            2,
            Duration::ZERO,
        );
        assert_eq!(
            limited.to_claim(all),
            vec![(
                "api".to_owned(),
                LimitedFrom::Places(vec![place("api", "a", 8), place("api", "c", 10)])
            )]
        );
        // A short one: at its limit, or drained; its places are kept.
        let from = limited.to_claim(all)[0].1.clone();
        limited.claimed("api", &from, &[job("a", 8)], 5, Duration::ZERO);
        assert!(limited.to_claim(all).is_empty());
        limited.due("other");
        assert!(limited.to_claim(all).is_empty());
        limited.due("api");
        assert!(
            matches!(&limited.to_claim(all)[0].1, LimitedFrom::Places(targets) if targets.contains(&place("api", "a", 9)))
        );
        assert!(limited.to_claim(|name| name != "api").is_empty());
        // A limit removed is forgotten.
        limited.refreshed([], Duration::from_secs(60));
        assert!(limited.to_claim(all).is_empty());
    }

    #[test]
    fn places_come_from_notifications_and_claims_from_the_front_are_spaced() {
        let mut limited = LimitedChannels::default();
        limited.refreshed(["api".to_owned()], LONG);
        let all = |_: &str| true;
        // Not limited: the place is not kept here.
        let web = ChannelKey {
            name: "web".to_owned(),
            args: String::new(),
        };
        assert!(!limited.queued(&web, 3));
        // The first claim is from the front, whatever is known; a slow one
        // spaces the next.
        let api = ChannelKey {
            name: "api".to_owned(),
            args: "x".to_owned(),
        };
        assert!(limited.queued(&api, 5));
        let front = LimitedFrom::Front { after: None };
        assert_eq!(limited.to_claim(all)[0].1, front);
        limited.claimed("api", &front, &[], 10, Duration::from_secs(60));
        // Known places serve meanwhile, even when work may be anywhere.
        limited.due_anywhere("api");
        assert_eq!(
            limited.to_claim(all)[0].1,
            LimitedFrom::Places(vec![place("api", "x", 5)])
        );
        // A channel with no place waits for its spacing, and says how long.
        limited.refreshed(["api".to_owned(), "new".to_owned()], LONG);
        limited.claimed("new", &front, &[], 10, Duration::from_secs(60));
        limited.due_anywhere("new");
        assert!(limited.to_claim(|name| name == "new").is_empty());
        assert!(limited.until_front_claim().unwrap() > Duration::from_secs(200));
    }
}
