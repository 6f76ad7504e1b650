//! The runner-report operations of [`Backend`](mq_core::Backend):
//! recording a runner's report, and listing counts and runners.

use mq_core::Result;
use mq_core::activity::{
    ActivityRecordParams, MinuteCount, RUNNER_PRUNE_AFTER, RunnerInfo, RunnerListParams,
    ThroughputListParams,
};
use time::OffsetDateTime;

use super::{count, get};
use crate::connection::{Connection, Param};
use crate::{micros, statements};

/// `Backend::activity_record`.
pub async fn activity_record(
    conn: &mut dyn Connection,
    params: ActivityRecordParams<'_>,
) -> Result<()> {
    let minutes: Vec<OffsetDateTime> = params.minutes.iter().map(|c| c.minute).collect();
    let channels: Vec<&str> = params
        .minutes
        .iter()
        .map(|c| c.channel_name.as_str())
        .collect();
    let column = |field: fn(&MinuteCount) -> u64| -> Vec<i64> {
        params
            .minutes
            .iter()
            .map(|c| i64::try_from(field(c)).unwrap_or(i64::MAX))
            .collect()
    };
    let (completed, retried, failed) = (
        column(|c| c.completed),
        column(|c| c.retried),
        column(|c| c.failed),
    );
    let clamp = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    conn.execute(
        "activity_record",
        statements::ACTIVITY_RECORD,
        &[
            Param::Uuid(params.runner),
            Param::Text(params.name),
            Param::I32(clamp(params.running)),
            Param::I32(clamp(params.max_concurrency)),
            Param::Bool(params.stopping),
            Param::Timestamps(&minutes),
            Param::Strs(&channels),
            Param::I64s(&completed),
            Param::I64s(&retried),
            Param::I64s(&failed),
            Param::I64(micros(params.retention)),
            Param::I64(micros(RUNNER_PRUNE_AFTER)),
            Param::OptTimestamp(params.now),
        ],
    )
    .await?;
    Ok(())
}

/// `Backend::throughput_list`.
pub async fn throughput_list(
    conn: &mut dyn Connection,
    params: ThroughputListParams,
) -> Result<Vec<MinuteCount>> {
    let op = "throughput_list";
    let rows = conn
        .query(
            op,
            statements::THROUGHPUT_LIST,
            &[
                Param::I64(micros(params.since)),
                Param::OptTimestamp(params.now),
            ],
        )
        .await?;
    rows.into_iter()
        .map(|mut row| {
            Ok(MinuteCount::new(
                get(&mut row, op, "minute")?,
                get(&mut row, op, "channel_name")?,
                count(&mut row, op, "completed")?,
                count(&mut row, op, "retried")?,
                count(&mut row, op, "failed")?,
            ))
        })
        .collect()
}

/// `Backend::runner_list`.
pub async fn runner_list(
    conn: &mut dyn Connection,
    _params: RunnerListParams,
) -> Result<Vec<RunnerInfo>> {
    let op = "runner_list";
    let rows = conn.query(op, statements::RUNNER_LIST, &[]).await?;
    rows.into_iter()
        .map(|mut row| {
            let running: i32 = get(&mut row, op, "running")?;
            let max_concurrency: i32 = get(&mut row, op, "max_concurrency")?;
            Ok(RunnerInfo::new(
                get(&mut row, op, "id")?,
                get(&mut row, op, "name")?,
                get(&mut row, op, "started_at")?,
                get(&mut row, op, "seen_at")?,
                u32::try_from(running).unwrap_or(0),
                u32::try_from(max_concurrency).unwrap_or(0),
            ))
        })
        .collect()
}
