//! The schedule operations of [`Backend`](mq_core::Backend): declaring,
//! firing, releasing and listing periodic jobs' schedules.

use mq_core::backend::{
    ScheduleDeclareParams, ScheduleDeclared, ScheduleFireParams, ScheduleInfo, ScheduleLease,
    ScheduleListParams, ScheduleReleaseParams, Spawned,
};
use mq_core::{Result, Uuid};
use time::OffsetDateTime;

use super::{get, job_insert};
use crate::connection::{Connection, Param};
use crate::{micros, statements};

/// `Backend::schedule_declare`.
pub async fn schedule_declare(
    conn: &mut dyn Connection,
    params: ScheduleDeclareParams<'_>,
) -> Result<ScheduleDeclared> {
    let op = "schedule_declare";
    let schedules = params.schedules;
    let names: Vec<String> = schedules.iter().map(|s| s.name.clone()).collect();
    let job_names: Vec<String> = schedules.iter().map(|s| s.job_name.clone()).collect();
    let expressions: Vec<String> = schedules.iter().map(|s| s.expression.clone()).collect();
    let time_zones: Vec<Option<String>> = schedules.iter().map(|s| s.time_zone.clone()).collect();
    let missed: Vec<String> = schedules.iter().map(|s| s.missed.clone()).collect();
    let first_dues: Vec<OffsetDateTime> = schedules.iter().map(|s| s.first_due).collect();
    let defined_ats: Vec<Option<OffsetDateTime>> = schedules.iter().map(|s| s.defined_at).collect();
    let rows = conn
        .query(
            op,
            statements::SCHEDULE_DECLARE,
            &[
                Param::Uuid(params.runner),
                Param::Texts(&names),
                Param::Texts(&job_names),
                Param::Texts(&expressions),
                Param::OptTexts(&time_zones),
                Param::Texts(&missed),
                Param::Timestamps(&first_dues),
                Param::I64(micros(params.lease)),
                Param::I64(micros(params.prune_after)),
                Param::OptTimestamp(params.now),
                Param::OptTimestamps(&defined_ats),
            ],
        )
        .await?;
    let mut now = params.now.unwrap_or_else(OffsetDateTime::now_utc);
    let mut leases = Vec::with_capacity(rows.len());
    for mut row in rows {
        now = get(&mut row, op, "now")?;
        leases.push(ScheduleLease {
            name: get(&mut row, op, "name")?,
            next_run_at: get(&mut row, op, "next_run_at")?,
            leading: get(&mut row, op, "leading")?,
            leader_until: get(&mut row, op, "leader_until")?,
        });
    }
    // In the order given, as the statement wrote them in name order.
    leases.sort_by_key(|lease| names.iter().position(|name| *name == lease.name));
    Ok(ScheduleDeclared {
        now,
        schedules: leases,
    })
}

/// `Backend::schedule_fire`: the due-time check and the jobs' insert, in
/// one transaction.
pub async fn schedule_fire(
    conn: &mut dyn Connection,
    params: ScheduleFireParams<'_>,
) -> Result<Option<Vec<Spawned>>> {
    let op = "schedule_fire";
    let last_job = params.jobs.last().map(|job| job.id);
    let mut tx = conn.begin(op).await?;
    let moved = tx
        .execute(
            op,
            statements::SCHEDULE_FIRE,
            &[
                Param::Text(params.name),
                Param::OptTimestamp(Some(params.due)),
                Param::OptTimestamp(Some(params.next_run_at)),
                Param::Uuid(params.runner),
                Param::OptTimestamp(params.last_tick),
                Param::Uuid(last_job.unwrap_or(Uuid::nil())),
                Param::OptTimestamp(params.now),
            ],
        )
        .await?;
    if moved == 0 {
        tx.rollback(op).await?;
        return Ok(None);
    }
    let spawned = job_insert(
        &mut *tx,
        mq_core::backend::JobInsertParams {
            jobs: params.jobs.to_vec(),
            now: params.now,
        },
    )
    .await?;
    if let Some(Spawned::Duplicate(holder)) = spawned.last()
        && params.last_tick.is_some()
    {
        tx.execute(
            op,
            statements::SCHEDULE_LAST_JOB,
            &[Param::Text(params.name), Param::Uuid(*holder)],
        )
        .await?;
    }
    tx.commit(op).await?;
    Ok(Some(spawned))
}

/// `Backend::schedule_release`.
pub async fn schedule_release(
    conn: &mut dyn Connection,
    params: ScheduleReleaseParams<'_>,
) -> Result<()> {
    conn.execute(
        "schedule_release",
        statements::SCHEDULE_RELEASE,
        &[
            Param::Uuid(params.runner),
            Param::Texts(params.names.unwrap_or_default()),
            Param::Bool(params.names.is_none()),
        ],
    )
    .await?;
    Ok(())
}

/// `Backend::schedule_list`.
pub async fn schedule_list(
    conn: &mut dyn Connection,
    params: ScheduleListParams,
) -> Result<Vec<ScheduleInfo>> {
    let op = "schedule_list";
    let rows = conn
        .query(
            op,
            statements::SCHEDULE_LIST,
            &[Param::OptTimestamp(params.now)],
        )
        .await?;
    rows.into_iter()
        .map(|mut row| {
            let mut info = ScheduleInfo::new(
                get(&mut row, op, "name")?,
                get(&mut row, op, "job_name")?,
                get(&mut row, op, "expression")?,
                get(&mut row, op, "time_zone")?,
                get(&mut row, op, "missed")?,
                get(&mut row, op, "next_run_at")?,
                get(&mut row, op, "declared_at")?,
            );
            info.last_run_at = get(&mut row, op, "last_run_at")?;
            info.defined_at = get(&mut row, op, "defined_at")?;
            info.last_job = get(&mut row, op, "last_job_id")?;
            info.leader = get(&mut row, op, "leader")?;
            info.leader_until = get(&mut row, op, "leader_until")?;
            Ok(info)
        })
        .collect()
}
