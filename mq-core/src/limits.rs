//! Limits on channels that hold across every runner of every process: at
//! most so many jobs running at once, at most so many starting in any
//! window of a period.
//!
//! A limit is stored in the database ([`admin::set_limit`](crate::admin::set_limit),
//! or [`JobRunnerOptions::set_channel_limit`](crate::JobRunnerOptions::set_channel_limit)
//! as a runner starts), and enforced by the statement that claims jobs:
//! a runner never claims a job the limit does not leave room for. Claims
//! of a limited channel are made one at a time, each seeing the claims
//! before it, so the limit is exact. A job a limited claim started holds
//! its slot while it runs, and a start counts against a rate for the
//! rate's period. A job whose lease expired (its runner died) frees its
//! slot when it is made ready again, which any runner does within a poll
//! interval of the expiry: until then its runner, if alive but late, may
//! still renew the lease, and the job would run on.

use std::time::Duration;

use time::OffsetDateTime;

use crate::builder::{MAX_DURATION, no_nul};
use crate::error::{Error, Result};

/// The most a limit may allow (concurrency, or starts per period):
/// PostgreSQL stores them as `integer`.
pub const MAX_LIMIT: u32 = i32::MAX as u32;

/// A limit on a channel name's jobs.
///
/// ```
/// use std::time::Duration;
/// use mq_core::limits::ChannelLimit;
///
/// # fn main() -> mq_core::Result<()> {
/// // At most 40 at once, and 100 starts a second, over the whole channel.
/// let api = ChannelLimit::new("partner_api").set_concurrency(40)?.set_rate(100, Duration::from_secs(1))?;
/// // At most 2 at once for each customer (the channel's arguments).
/// let exports = ChannelLimit::new("exports").set_concurrency(2)?.set_per_args(true);
/// # let _ = (api, exports);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelLimit {
    channel_name: String,
    per_args: bool,
    concurrency: Option<u32>,
    rate: Option<Rate>,
}

/// At most `count` starts in any window of `period`: a sliding window, not
/// a token bucket, so that no window of that length ever holds more (a
/// bucket allows twice as many across a refill).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// The starts allowed in a window.
    pub count: u32,
    /// The window's length.
    pub period: Duration,
}

impl ChannelLimit {
    /// A limit on the channel name `channel_name` (all its arguments
    /// together, unless [`set_per_args`](Self::set_per_args)). Give it a
    /// concurrency, a rate, or both.
    pub fn new(channel_name: impl Into<String>) -> Self {
        Self {
            channel_name: channel_name.into(),
            per_args: false,
            concurrency: None,
            rate: None,
        }
    }

    /// At most `concurrency` jobs running at once (at least 1; pause a
    /// channel to run none).
    pub fn set_concurrency(mut self, concurrency: u32) -> Result<Self> {
        if concurrency == 0 || concurrency > MAX_LIMIT {
            return Err(Error::invalid(
                "concurrency",
                format!("{concurrency} is not from 1 to {MAX_LIMIT} (pause a channel to run none)"),
            ));
        }
        self.concurrency = Some(concurrency);
        Ok(self)
    }

    /// At most `count` jobs starting in any window of `period` (see
    /// [`Rate`]).
    pub fn set_rate(mut self, count: u32, period: Duration) -> Result<Self> {
        if count == 0 || count > MAX_LIMIT {
            return Err(Error::invalid(
                "rate",
                format!("{count} starts is not from 1 to {MAX_LIMIT}"),
            ));
        }
        if period < Duration::from_millis(1) || period > MAX_DURATION {
            return Err(Error::invalid(
                "rate",
                format!("a period of {period:?} is not from 1 ms to 1,000 years"),
            ));
        }
        self.rate = Some(Rate { count, period });
        Ok(self)
    }

    /// Applies the limit to each of the channel's arguments apart (each
    /// customer its own 2 at once, say) rather than to all together.
    pub fn set_per_args(mut self, per_args: bool) -> Self {
        self.per_args = per_args;
        self
    }

    /// The channel name.
    pub fn channel_name(&self) -> &str {
        &self.channel_name
    }

    /// Whether the limit applies to each of the channel's arguments apart.
    pub fn per_args(&self) -> bool {
        self.per_args
    }

    /// How many may run at once.
    pub fn concurrency(&self) -> Option<u32> {
        self.concurrency
    }

    /// How many may start in a period.
    pub fn rate(&self) -> Option<Rate> {
        self.rate
    }

    /// Checks that the limit can be stored.
    pub fn validate(&self) -> Result<()> {
        no_nul("channel_name", &self.channel_name)?;
        if self.concurrency.is_none() && self.rate.is_none() {
            return Err(Error::invalid(
                "limit",
                "a limit needs a concurrency, a rate, or both",
            ));
        }
        Ok(())
    }
}

/// A limit with its current use, as [`admin::limits`](crate::admin::limits)
/// shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LimitInfo {
    /// The limit.
    pub limit: ChannelLimit,
    /// Jobs of the channel that a limited claim started and that run now
    /// (for a limit per argument, the most of any one argument).
    pub running: u64,
    /// Jobs started in the last rate period (for a limit per argument, the
    /// most of any one argument); 0 without a rate.
    pub recent_starts: u64,
    /// Ready jobs of the channel, waiting for room under the limit.
    pub waiting: u64,
    /// When the limit was last set.
    pub updated_at: OffsetDateTime,
}

impl LimitInfo {
    /// A limit and its use (for backends of your own).
    pub fn new(
        limit: ChannelLimit,
        running: u64,
        recent_starts: u64,
        waiting: u64,
        updated_at: OffsetDateTime,
    ) -> Self {
        Self {
            limit,
            running,
            recent_starts,
            waiting,
            updated_at,
        }
    }
}

/// What [`Backend::channel_limit`](crate::Backend::channel_limit) does.
#[derive(Clone, Copy, Debug)]
pub enum LimitAction<'a> {
    /// Sets (or replaces) the channel's limit.
    Set(&'a ChannelLimit),
    /// Removes the channel's limit.
    Remove,
}

/// Parameters of [`Backend::channel_limit`](crate::Backend::channel_limit).
#[derive(Clone, Copy, Debug)]
pub struct ChannelLimitParams<'a> {
    /// The channel name.
    pub channel_name: &'a str,
    /// Set or remove.
    pub action: LimitAction<'a>,
}

impl ChannelLimitParams<'_> {
    /// Checks that a limit to set can be stored, and is the named
    /// channel's: what every backend checks before it writes anything.
    pub fn validate(&self) -> Result<()> {
        let LimitAction::Set(limit) = self.action else {
            return Ok(());
        };
        limit.validate()?;
        if limit.channel_name() != self.channel_name {
            return Err(Error::invalid(
                "limit",
                "the limit is for another channel name than the one given",
            ));
        }
        Ok(())
    }
}

/// Parameters of [`Backend::channel_limits`](crate::Backend::channel_limits).
#[derive(Clone, Copy, Debug, Default)]
pub struct ChannelLimitsParams {
    /// The time to measure use at; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
    /// Measure each limit's use; without, the use fields are 0 (what
    /// runners read to learn which channels are limited, cheaply).
    pub with_use: bool,
}

/// Parameters of [`Backend::job_claim_limited`](crate::Backend::job_claim_limited).
#[derive(Clone, Copy, Debug)]
pub struct JobClaimLimitedParams<'a> {
    /// The limited channel name.
    pub channel_name: &'a str,
    /// The arguments served last: the claim serves those after them first,
    /// so that each of the channel's arguments is served in turn.
    pub after: Option<&'a str>,
    /// Where to claim from instead: each target of this channel name (the
    /// others are passed over) from its place on, in the order given, as
    /// [`JobClaimParams::targets`](crate::backend::JobClaimParams::targets)
    /// (`after` then plays no part). The limit holds over all of them
    /// together: an argument with targets of several priorities gets its
    /// room once. `None` claims from the front of each of the channel's
    /// arguments, which walks the entries that claims leave dead there
    /// while the xmin horizon is held back.
    pub targets: Option<&'a [crate::backend::ClaimTarget]>,
    /// The most jobs to claim (the limit may allow fewer).
    pub limit: u32,
    /// How long to hold them.
    pub lease: Duration,
    /// The time; `None` for the backend's clock.
    pub now: Option<OffsetDateTime>,
}
