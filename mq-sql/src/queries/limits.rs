//! The channel limit operations of [`Backend`](mq_core::Backend): setting
//! and listing limits, and the claim of a limited channel.

use mq_core::Result;
use mq_core::backend::{
    ChannelLimitParams, ChannelLimitsParams, ClaimTarget, ClaimedJob, JobClaimLimitedParams,
    LimitAction, LimitInfo,
};
use mq_core::limits::ChannelLimit;

use super::{TargetColumns, claimed_job, get, notify};
use crate::connection::{Connection, Param};
use crate::{from_micros, micros, ready_notifications, statements};

/// `Backend::channel_limit`.
pub async fn channel_limit(
    conn: &mut dyn Connection,
    params: ChannelLimitParams<'_>,
) -> Result<bool> {
    let op = "channel_limit";
    params.validate()?;
    let name = Param::Text(params.channel_name);
    match params.action {
        LimitAction::Set(limit) => {
            let rate = limit.rate();
            let rows = conn
                .query(
                    op,
                    statements::CHANNEL_LIMIT_SET,
                    &[
                        name,
                        Param::Bool(limit.per_args()),
                        Param::OptI64(limit.concurrency().map(i64::from)),
                        Param::OptI64(rate.map(|rate| i64::from(rate.count))),
                        Param::OptI64(rate.map(|rate| micros(rate.period))),
                    ],
                )
                .await?;
            Ok(!rows.is_empty())
        }
        LimitAction::Remove => {
            let removed = !conn
                .query(op, statements::CHANNEL_LIMIT_REMOVE, &[name])
                .await?
                .is_empty();
            if removed {
                // Its jobs are the ordinary claims' again.
                notify(conn, &ready_notifications([params.channel_name])).await?;
            }
            Ok(removed)
        }
    }
}

/// `Backend::channel_limits`.
pub async fn channel_limits(
    conn: &mut dyn Connection,
    params: ChannelLimitsParams,
) -> Result<Vec<LimitInfo>> {
    let op = "channel_limits";
    let sql = if params.with_use {
        statements::CHANNEL_LIMITS
    } else {
        statements::CHANNEL_LIMITS_PLAIN
    };
    let rows = conn
        .query(op, sql, &[Param::OptTimestamp(params.now)])
        .await?;
    rows.into_iter()
        .map(|mut row| {
            let name: String = get(&mut row, op, "channel_name")?;
            let mut limit = ChannelLimit::new(name).set_per_args(get(&mut row, op, "per_args")?);
            if let Some(concurrency) = get::<Option<i64>>(&mut row, op, "concurrency")? {
                limit = limit.set_concurrency(u32::try_from(concurrency).unwrap_or(0))?;
            }
            let count: Option<i64> = get(&mut row, op, "rate_count")?;
            let period: Option<i64> = get(&mut row, op, "rate_period_us")?;
            if let (Some(count), Some(period)) = (count, period) {
                limit = limit.set_rate(u32::try_from(count).unwrap_or(0), from_micros(period))?;
            }
            let count = |row: &mut crate::connection::Row, name: &str| -> Result<u64> {
                Ok(u64::try_from(get::<i64>(row, op, name)?).unwrap_or(0))
            };
            Ok(LimitInfo::new(
                limit,
                count(&mut row, "running")?,
                count(&mut row, "recent_starts")?,
                count(&mut row, "waiting")?,
                get(&mut row, op, "updated_at")?,
            ))
        })
        .collect()
}

/// How many times a limited claim is made before its failure is returned:
/// each check that fails means that another claim took the same room and
/// committed, or that the limit was lowered.
const LIMITED_CLAIM_ATTEMPTS: usize = 4;

/// `Backend::job_claim_limited`: one statement, run on its own, which
/// claims what the channel's limit leaves room for, then checks the limit
/// under its lock (see `0017_limit_check.sql`). The check fails the
/// statement with a serialization failure when a concurrent claim took
/// the room, and nothing of it stays: the claim is then made again. Other
/// transient failures are retried the same way, which is harmless (the
/// claim is all or nothing).
pub async fn job_claim_limited(
    conn: &mut dyn Connection,
    params: JobClaimLimitedParams<'_>,
) -> Result<Vec<ClaimedJob>> {
    let op = "job_claim_limited";
    // Targets of other channels are passed over; none left, nothing to claim.
    let targets: Vec<&ClaimTarget> = params
        .targets
        .unwrap_or_default()
        .iter()
        .filter(|target| target.channel.name == params.channel_name)
        .collect();
    if params.targets.is_some() && targets.is_empty() {
        return Ok(Vec::new());
    }
    let TargetColumns {
        args, from, until, ..
    } = TargetColumns::new(targets);
    let binds = [
        Param::I64(i64::from(params.limit)),
        Param::I64(micros(params.lease)),
        Param::Text(params.channel_name),
        Param::Text(params.after.unwrap_or("")),
        Param::OptTimestamp(params.now),
        Param::Texts(&args),
        Param::I64s(&from),
        Param::I64s(&until),
    ];
    let mut attempt = 1;
    loop {
        match conn
            .query(op, crate::job_claim_limited(params.limit), &binds)
            .await
        {
            Ok(mut rows) => return rows.iter_mut().map(claimed_job).collect(),
            Err(error) if error.is_transient() && attempt < LIMITED_CLAIM_ATTEMPTS => {
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}
