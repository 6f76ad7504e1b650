//! The limited channels a runner claims from with limited claims
//! (`Backend::job_claim_limited`), and when each is worth a claim.
//!
//! Ordinary claims pass limited channels over, so a runner claims them
//! apart, one limited claim per channel. A claim that took all it asked
//! for may have left more: the channel is claimed again at once. One that
//! took less found the channel at its limit or drained, and the channel
//! waits for something that may have changed that: a notification naming
//! it, one of its jobs settled by this runner (a completion, failure or
//! release written, which frees a slot), or the poll timer (for slots
//! freed by other processes' runners, and rate windows moving on).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::backend::ClaimedJob;

#[derive(Debug, Default)]
struct Channel {
    /// Worth a limited claim at the next turn.
    due: bool,
    /// The arguments served last, so that the next claim serves the ones
    /// after them first.
    after: Option<String>,
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

    /// Something may have changed for every limited channel.
    pub fn all_due(&mut self) {
        for channel in self.channels.values_mut() {
            channel.due = true;
        }
    }

    /// Something may have changed for `name`, if it is limited.
    pub fn due(&mut self, name: &str) {
        if let Some(channel) = self.channels.get_mut(name) {
            channel.due = true;
        }
    }

    /// The limited channels worth a claim, with the arguments each served
    /// last, among those `wanted`.
    pub fn to_claim(&self, wanted: impl Fn(&str) -> bool) -> Vec<(String, Option<String>)> {
        self.channels
            .iter()
            .filter(|(name, channel)| channel.due && wanted(name))
            .map(|(name, channel)| (name.clone(), channel.after.clone()))
            .collect()
    }

    /// A limited claim of up to `asked` jobs of `name` took `jobs`.
    pub fn claimed(&mut self, name: &str, jobs: &[ClaimedJob], asked: usize) {
        if let Some(channel) = self.channels.get_mut(name) {
            channel.due = jobs.len() >= asked;
            if let Some(last) = jobs.iter().map(|job| &job.channel_args).max() {
                channel.after = Some(last.clone());
            }
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

    fn job(args: &str) -> ClaimedJob {
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
    }

    #[test]
    fn a_channel_is_claimed_again_only_when_something_may_have_changed() {
        let mut limited = LimitedChannels::default();
        assert!(limited.refresh_due());
        limited.refreshed(["api".to_owned()], Duration::from_secs(60));
        assert!(!limited.refresh_due());
        let all = |_: &str| true;
        assert_eq!(limited.to_claim(all), vec![("api".to_owned(), None)]);
        // A full claim: again at once, after the arguments served last.
        limited.claimed("api", &[job("a"), job("c")], 2);
        assert_eq!(
            limited.to_claim(all),
            vec![("api".to_owned(), Some("c".to_owned()))]
        );
        // A short one: at its limit, or drained.
        limited.claimed("api", &[job("d")], 5);
        assert!(limited.to_claim(all).is_empty());
        limited.due("other");
        assert!(limited.to_claim(all).is_empty());
        limited.due("api");
        assert_eq!(limited.to_claim(all).len(), 1);
        assert!(limited.to_claim(|name| name != "api").is_empty());
        // A limit removed is forgotten.
        limited.refreshed([], Duration::from_secs(60));
        assert!(limited.to_claim(all).is_empty());
    }
}
