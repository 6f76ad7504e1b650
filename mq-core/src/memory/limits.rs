//! The in-memory backend's channel limits: the limits by channel name, and
//! the starts made under those with a rate. A limit's use is the running
//! jobs of its channel that a limited claim started, and those starts.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use uuid::Uuid;

use super::Store;
use crate::backend::{ChannelKey, ClaimTarget, ClaimedJob, JobState};
use crate::limits::{ChannelLimit, JobClaimLimitedParams, LimitAction, LimitInfo};

/// A stored limit, and when it was set.
#[derive(Clone, Debug)]
pub(super) struct StoredLimit {
    limit: ChannelLimit,
    updated_at: OffsetDateTime,
}

/// A job started by a limited claim under a limit with a rate: it counts
/// against the rate for the rate's period.
#[derive(Clone, Debug)]
pub(super) struct LimitedClaim {
    channel: ChannelKey,
    at: OffsetDateTime,
}

impl Store {
    pub(super) fn channel_limit(
        &mut self,
        channel_name: &str,
        action: LimitAction<'_>,
        now: OffsetDateTime,
    ) -> bool {
        match action {
            LimitAction::Set(limit) => {
                if self
                    .limits
                    .get(channel_name)
                    .is_some_and(|stored| &stored.limit == limit)
                {
                    return false;
                }
                self.limits.insert(
                    channel_name.to_owned(),
                    StoredLimit {
                        limit: limit.clone(),
                        updated_at: now,
                    },
                );
                true
            }
            LimitAction::Remove => self.limits.remove(channel_name).is_some(),
        }
    }

    /// The key a claim counts under: the channel, or its arguments too.
    fn limit_key(limit: &ChannelLimit, channel: &ChannelKey) -> String {
        if limit.per_args() {
            channel.args.clone()
        } else {
            String::new()
        }
    }

    /// What each key of `limit` holds at `now`: the jobs a limited claim
    /// started that are still running (past their lease's end too, until
    /// they are made ready again: a late runner may still renew the lease
    /// and run on), and the starts within the rate period.
    fn limit_use(&self, limit: &ChannelLimit, now: OffsetDateTime) -> BTreeMap<String, (u64, u64)> {
        let mut used: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for job in self.jobs.values().filter(|job| {
            job.state == JobState::Running
                && job.limit_slot
                && job.channel.name == limit.channel_name()
        }) {
            used.entry(Self::limit_key(limit, &job.channel))
                .or_default()
                .0 += 1;
        }
        if let Some(rate) = limit.rate() {
            for claim in self.limited_claims.iter().filter(|claim| {
                claim.channel.name == limit.channel_name() && claim.at > now - rate.period
            }) {
                used.entry(Self::limit_key(limit, &claim.channel))
                    .or_default()
                    .1 += 1;
            }
        }
        used
    }

    pub(super) fn channel_limits(&self, now: OffsetDateTime, with_use: bool) -> Vec<LimitInfo> {
        self.limits
            .values()
            .map(|stored| {
                let limit = &stored.limit;
                if !with_use {
                    return LimitInfo::new(limit.clone(), 0, 0, 0, stored.updated_at);
                }
                let used = self.limit_use(limit, now);
                let running = used
                    .values()
                    .map(|(running, _)| *running)
                    .max()
                    .unwrap_or(0);
                let recent = used.values().map(|(_, recent)| *recent).max().unwrap_or(0);
                let waiting = self
                    .jobs
                    .values()
                    .filter(|job| {
                        job.state == JobState::Ready && job.channel.name == limit.channel_name()
                    })
                    .count() as u64;
                LimitInfo::new(limit.clone(), running, recent, waiting, stored.updated_at)
            })
            .collect()
    }

    /// The arguments a limited claim visits, in order, each with the
    /// targets it takes from (`None`: all of the argument's ready jobs).
    fn limited_visits<'t>(
        &self,
        params: &JobClaimLimitedParams<'t>,
    ) -> Vec<(String, Vec<Option<&'t ClaimTarget>>)> {
        if let Some(targets) = params.targets {
            let mut visits: Vec<(String, Vec<Option<&ClaimTarget>>)> = Vec::new();
            for target in targets {
                if target.channel.name != params.channel_name {
                    continue;
                }
                match visits
                    .iter_mut()
                    .find(|(args, _)| *args == target.channel.args)
                {
                    Some((_, of_args)) => of_args.push(Some(target)),
                    None => visits.push((target.channel.args.clone(), vec![Some(target)])),
                }
            }
            return visits;
        }
        // The channel's arguments with ready jobs, after the cursor first.
        let mut args: Vec<String> = self
            .jobs
            .values()
            .filter(|job| job.state == JobState::Ready && job.channel.name == params.channel_name)
            .map(|job| job.channel.args.clone())
            .collect();
        args.sort();
        args.dedup();
        let after = params.after.unwrap_or("");
        let (before, later): (Vec<String>, Vec<String>) =
            args.into_iter().partition(|args| args.as_str() <= after);
        later
            .into_iter()
            .chain(before)
            .map(|args| (args, vec![None]))
            .collect()
    }

    pub(super) fn job_claim_limited(
        &mut self,
        params: &JobClaimLimitedParams<'_>,
        now: OffsetDateTime,
    ) -> Vec<ClaimedJob> {
        let Some(limit) = self
            .limits
            .get(params.channel_name)
            .map(|s| s.limit.clone())
        else {
            return Vec::new();
        };
        if self.paused.contains_key(params.channel_name) {
            return Vec::new();
        }
        self.number_ready();
        let used = self.limit_use(&limit, now);
        // Room for a key: what its concurrency and its rate leave.
        let room = |key: &str| -> usize {
            let (running, recent) = used.get(key).copied().unwrap_or_default();
            let mut room = u64::from(params.limit);
            if let Some(concurrency) = limit.concurrency() {
                room = room.min(u64::from(concurrency).saturating_sub(running));
            }
            if let Some(rate) = limit.rate() {
                room = room.min(u64::from(rate.count).saturating_sub(recent));
            }
            room as usize
        };
        let visits = self.limited_visits(params);
        let mut total = if limit.per_args() {
            params.limit as usize
        } else {
            room("")
        };
        let mut picked = Vec::new();
        for (args, targets) in visits {
            if total == 0 {
                break;
            }
            let channel = ChannelKey {
                name: params.channel_name.to_owned(),
                args,
            };
            let mut take = total;
            if limit.per_args() {
                take = take.min(room(&channel.args));
            }
            // The argument's jobs that any of its targets covers, in the
            // order of a claim: by priority, then by turn.
            let mut ready: Vec<Uuid> = targets
                .iter()
                .flat_map(|target| self.ready_in(&channel, *target))
                .collect();
            ready.sort_by_key(|id| {
                let job = &self.jobs[id];
                (std::cmp::Reverse(job.priority), job.ready_turn)
            });
            ready.dedup();
            let jobs: Vec<Uuid> = ready.into_iter().take(take).collect();
            total -= jobs.len();
            picked.extend(jobs);
        }
        let claimed = self.start(picked, now + params.lease, true);
        // Starts count only against a rate, for its period.
        let period = limit.rate().map(|rate| rate.period);
        self.limited_claims.retain(|claim| {
            claim.channel.name != limit.channel_name()
                || period.is_some_and(|period| claim.at > now - period)
        });
        if period.is_some() {
            for job in &claimed {
                self.limited_claims.push(LimitedClaim {
                    channel: job.channel(),
                    at: now,
                });
            }
        }
        claimed
    }
}
