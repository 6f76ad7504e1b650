//! Every operation of [`Backend`](mq_core::Backend), once: which statement,
//! which parameters, and how its rows become mq's types, on any driver's
//! [`Connection`].
//!
//! Each function is named after its operation and its statement
//! (`job_claim` ↔ `statements/job_claim.sql` ↔ `Backend::job_claim`).

use std::collections::{BTreeSet, HashMap, HashSet};

use mq_core::backend::{
    CancelOutcome, ChannelKey, ChannelPause, ChannelPauseParams, ClaimTarget, ClaimedJob,
    JobCancelParams, JobCheckpointParams, JobClaimParams, JobCommitParams, JobCompleteParams,
    JobDeleteParams, JobFailOutcome, JobFailParams, JobGetParams, JobInfo, JobInsertParams,
    JobKeepAliveParams, JobLease, JobListParams, JobReleaseParams, JobRetryParams,
    JobScheduleParams, JobScheduleResult, JobState, JobStateCount, JobStatsParams, JobSummary,
    LeaseOutcome, PauseAction, QueueStats, Spawned, bound_error_text,
};
use mq_core::builder::NewJob;
use mq_core::{Error, Result, Uuid};
use time::OffsetDateTime;

use crate::connection::{Connection, FromValue, Param, Pooling, Row};

mod activity;
mod limits;
mod schedules;
use crate::filter;
use crate::notify_group::{self, Turn};
use crate::{
    InsertColumns, MIGRATION_LOCK_KEY, MIGRATIONS, VACUUM_LOCK_KEY, cancel_notification,
    fail_outcome, from_micros, insert_notifications, latest_version, lease_columns, lease_outcome,
    micros, notification, parse_error, parse_errors, ready_notifications, statements,
};
pub use activity::{activity_record, runner_list, throughput_list};
pub use limits::{channel_limit, channel_limits, job_claim_limited};
pub use schedules::{schedule_declare, schedule_fire, schedule_list, schedule_release};

/// A value read back that is not what mq writes (a newer schema, or a row
/// changed by hand).
fn corrupt(operation: &'static str, reason: String) -> Error {
    Error::backend(operation, false, reason)
}

/// Column `name` of `row` (taken out of it), or an error naming the
/// operation.
fn get<T: FromValue>(row: &mut Row, operation: &'static str, name: &str) -> Result<T> {
    row.take(name).map_err(|e| corrupt(operation, e))
}

fn parse_state(operation: &'static str, name: &str) -> Result<JobState> {
    JobState::parse(name).ok_or_else(|| {
        corrupt(
            operation,
            format!("unknown job state {name:?}: the database schema is newer than this mq"),
        )
    })
}

fn count(row: &mut Row, operation: &'static str, name: &str) -> Result<u64> {
    Ok(u64::try_from(get::<i64>(row, operation, name)?).unwrap_or(0))
}

/// How many times a batch's jobs whose key changed hands while it was
/// inserted are spawned again before giving up (see [`job_insert`]).
const MAX_INSERT_ROUNDS: usize = 5;

/// `Backend::job_insert`, then the notifications for the new jobs.
///
/// A job whose unique key is held by a job that committed after the
/// statement looked for holders is neither inserted nor told its holder:
/// it is spawned again, with a statement that sees that job.
pub async fn job_insert(
    conn: &mut dyn Connection,
    params: JobInsertParams<'_>,
) -> Result<Vec<Spawned>> {
    let mut spawned: Vec<Option<Spawned>> = vec![None; params.jobs.len()];
    let mut pending: Vec<usize> = (0..params.jobs.len()).collect();
    let mut queued = Vec::new();
    for _ in 0..MAX_INSERT_ROUNDS {
        let jobs: Vec<&NewJob> = pending.iter().map(|&i| params.jobs[i]).collect();
        let holders = insert_rows(conn, &jobs, params.now, &mut queued).await?;
        let mut unresolved = Vec::new();
        for (position, &i) in pending.iter().enumerate() {
            let job = params.jobs[i];
            spawned[i] = match (&job.unique_key, holders.get(&(position as i64 + 1))) {
                (None, _) => Some(Spawned::Inserted(job.id)),
                (Some(_), Some(&holder)) if holder == job.id => Some(Spawned::Inserted(job.id)),
                (Some(_), Some(&holder)) => Some(Spawned::Duplicate(holder)),
                (Some(_), None) => {
                    unresolved.push(i);
                    None
                }
            };
        }
        pending = unresolved;
        if pending.is_empty() {
            break;
        }
    }
    if let Some(&i) = pending.first() {
        return Err(Error::backend(
            "job_insert",
            true,
            format!(
                "the job holding the unique key of job {} changed {MAX_INSERT_ROUNDS} times while it was spawned",
                params.jobs[i].id
            ),
        ));
    }
    let spawned: Vec<Spawned> = spawned.into_iter().flatten().collect();
    let inserted: Vec<&NewJob> = params
        .jobs
        .iter()
        .zip(&spawned)
        .filter(|(_, spawned)| spawned.is_inserted())
        .map(|(job, _)| *job)
        .collect();
    match notify(conn, &insert_notifications(&inserted, &queued)).await {
        Err(error) if conn.autocommit() => {
            // The jobs are in: reporting an error would make callers that
            // retry spawn them twice. Runners poll, so they run anyway.
            tracing::warn!(%error, "the jobs are spawned, but the runners could not be notified");
            Ok(spawned)
        }
        Err(error) => Err(error),
        Ok(()) => Ok(spawned),
    }
}

/// Runs `job_insert.sql` for `jobs`: adds the places of the new ready jobs
/// to `queued`, and returns, by position in `jobs` (from 1), the job that
/// holds each unique key the statement could resolve.
async fn insert_rows(
    conn: &mut dyn Connection,
    jobs: &[&NewJob],
    now: Option<OffsetDateTime>,
    queued: &mut Vec<(ChannelKey, i64)>,
) -> Result<HashMap<i64, Uuid>> {
    let columns = InsertColumns::new(jobs);
    // Ticks go with unique keys (job_insert.sql).
    let unique = jobs
        .iter()
        .any(|job| job.unique_key.is_some() || job.tick.is_some());
    let op = "job_insert";
    let mut params = vec![
        Param::Uuids(&columns.ids),
        Param::Texts(&columns.names),
        Param::Texts(&columns.channel_names),
        Param::Texts(&columns.channel_args),
        Param::OptTexts(&columns.payload_json),
        Param::OptBytesArray(&columns.payload_bytes),
        Param::I64s(&columns.delays_us),
        Param::I32s(&columns.retries),
        Param::I64s(&columns.backoffs_us),
        Param::Bools(&columns.ordered),
        Param::OptI64s(&columns.commit_intervals_us),
        Param::OptTimestamp(now),
        Param::OptI64s(&columns.backoff_maxes_us),
        Param::Bools(&columns.jitters),
        Param::OptI64s(&columns.timeouts_us),
        Param::I32s(&columns.priorities),
        Param::OptTexts(&columns.trace_contexts),
    ];
    if unique {
        params.push(Param::OptTexts(&columns.unique_keys));
        params.push(Param::OptI64s(&columns.unique_fors_us));
        params.push(Param::OptI64s(&columns.ticks_us));
    }
    let mut rows = conn.query(op, crate::job_insert(unique), &params).await?;
    let mut holders = HashMap::new();
    for row in &mut rows {
        match get::<Option<String>>(row, op, "channel_name")? {
            Some(name) => {
                let channel = ChannelKey {
                    name,
                    args: get(row, op, "channel_args")?,
                };
                queued.push((channel, get(row, op, "ready_seq")?));
            }
            None => {
                let ord: i64 = get(row, op, "ord")?;
                if let Some(holder) = get::<Option<Uuid>>(row, op, "holder")? {
                    holders.insert(ord, holder);
                }
            }
        }
    }
    Ok(holders)
}

/// Wakes listening runners (`job_notify.sql`). A statement of its own,
/// after the insert: outside a transaction, the insert then commits without
/// taking PostgreSQL's notification lock, which is held across the commit's
/// flush and would make concurrent spawns commit one at a time. On a
/// connection mq took from a pool, the statement is shared with the calls
/// to the same database that end meanwhile ([`notify_group`]), and its
/// errors are only logged: the jobs are in, and runners also poll.
pub(crate) async fn notify(conn: &mut dyn Connection, payloads: &[String]) -> Result<()> {
    if payloads.is_empty() {
        return Ok(());
    }
    let Some(key) = conn.notify_group() else {
        return send_notifications(conn, payloads).await;
    };
    let (mut round, mut batch) = match notify_group::join(&key, payloads.to_vec()) {
        Turn::Joined => return Ok(()),
        Turn::Lead(round, batch) => (round, batch),
        Turn::LeadNext(waiting) => match waiting.await {
            Some(handed) => handed,
            // Never: a round in flight always hands over or gives back.
            None => return Ok(()),
        },
    };
    loop {
        if let Err(error) = send_notifications(conn, &batch).await {
            tracing::warn!(%error, "jobs are in, but the runners could not be notified; they will find them by polling");
        }
        match round.finish() {
            None => return Ok(()),
            Some(orphaned) => batch = orphaned,
        }
    }
}

async fn send_notifications(conn: &mut dyn Connection, payloads: &[String]) -> Result<()> {
    conn.execute(
        "job_notify",
        statements::JOB_NOTIFY,
        &[Param::Texts(payloads)],
    )
    .await?;
    Ok(())
}

pub(crate) fn claimed_job(row: &mut Row) -> Result<ClaimedJob> {
    let op = "job_claim";
    Ok(ClaimedJob::new(
        get(row, op, "id")?,
        get(row, op, "attempt")?,
        get(row, op, "lease_token")?,
        get(row, op, "name")?,
        get(row, op, "channel_name")?,
        get(row, op, "channel_args")?,
        get(row, op, "ordered")?,
        get(row, op, "retries")?,
        from_micros(get(row, op, "retry_backoff_us")?),
        get(row, op, "payload_json")?,
        get(row, op, "payload_bytes")?,
    )
    .with_retry_limits(
        get::<Option<i64>>(row, op, "retry_backoff_max_us")?.map(from_micros),
        get(row, op, "retry_jitter")?,
    )
    .with_timeout(get::<Option<i64>>(row, op, "timeout_us")?.map(from_micros))
    .with_ready_seq(get(row, op, "ready_seq")?)
    .with_trace_context(get(row, op, "trace_context")?)
    .with_tick(get(row, op, "tick")?))
}

/// `Backend::job_claim`.
pub async fn job_claim(
    conn: &mut dyn Connection,
    params: JobClaimParams<'_>,
) -> Result<Vec<ClaimedJob>> {
    if let Some(targets) = params.targets {
        return job_claim_targeted(conn, &params, targets).await;
    }
    let (after_name, after_args) = params
        .after
        .map_or(("", ""), |c| (c.name.as_str(), c.args.as_str()));
    let mut binds = vec![
        Param::I64(i64::from(params.limit)),
        Param::I64(micros(params.lease)),
        Param::Text(after_name),
        Param::Text(after_args),
        Param::OptTimestamp(params.now),
    ];
    if let Some(names) = params.channel_names {
        binds.push(Param::Texts(names));
    }
    let sql = crate::job_claim(params.channel_names.is_some(), params.limit);
    let mut rows = conn.query("job_claim", sql, &binds).await?;
    rows.iter_mut().map(claimed_job).collect()
}

/// Claim targets as the columns the claim statements take them in: each
/// target's channel name and arguments, and the range of ready_seq it
/// takes (from, until).
pub(crate) struct TargetColumns {
    pub names: Vec<String>,
    pub args: Vec<String>,
    pub from: Vec<i64>,
    pub until: Vec<i64>,
}

impl TargetColumns {
    pub(crate) fn new<'t>(targets: impl IntoIterator<Item = &'t ClaimTarget>) -> Self {
        let mut columns = Self {
            names: Vec::new(),
            args: Vec::new(),
            from: Vec::new(),
            until: Vec::new(),
        };
        for target in targets {
            let places = target.ready_seqs();
            columns.names.push(target.channel.name.clone());
            columns.args.push(target.channel.args.clone());
            columns.from.push(places.start);
            columns.until.push(places.end);
        }
        columns
    }
}

/// `Backend::job_claim` with targets.
async fn job_claim_targeted(
    conn: &mut dyn Connection,
    params: &JobClaimParams<'_>,
    targets: &[ClaimTarget],
) -> Result<Vec<ClaimedJob>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let TargetColumns {
        names,
        args,
        from,
        until,
    } = TargetColumns::new(targets);
    let binds = [
        Param::I64(i64::from(params.limit)),
        Param::I64(micros(params.lease)),
        Param::Texts(&names),
        Param::Texts(&args),
        Param::OptTimestamp(params.now),
        Param::I64s(&from),
        Param::I64s(&until),
    ];
    let sql = crate::job_claim_targeted(params.limit);
    let mut rows = conn.query("job_claim", sql, &binds).await?;
    rows.iter_mut().map(claimed_job).collect()
}

/// The outcome of each lease, from the rows of a `held_leases!` statement.
fn lease_outcomes<T>(
    rows: &mut [Row],
    operation: &'static str,
    parse: impl Fn(&str) -> std::result::Result<T, String>,
) -> Result<Vec<(JobLease, T)>> {
    rows.iter_mut()
        .map(|row| {
            let lease = JobLease {
                id: get(row, operation, "id")?,
                token: get(row, operation, "lease_token")?,
            };
            let outcome: String = get(row, operation, "outcome")?;
            Ok((lease, parse(&outcome).map_err(|e| corrupt(operation, e))?))
        })
        .collect()
}

/// `Backend::job_complete`.
pub async fn job_complete(
    conn: &mut dyn Connection,
    params: JobCompleteParams<'_>,
) -> Result<Vec<(JobLease, LeaseOutcome)>> {
    let (ids, tokens) = lease_columns(params.leases);
    let sql = crate::job_complete(params.keep_completed, params.skip_busy);
    let mut rows = conn
        .query(
            "job_complete",
            sql,
            &[
                Param::Uuids(&ids),
                Param::I32s(&tokens),
                Param::OptTimestamp(params.now),
            ],
        )
        .await?;
    lease_outcomes(&mut rows, "job_complete", lease_outcome)
}

/// `Backend::job_fail`.
pub async fn job_fail(
    conn: &mut dyn Connection,
    params: JobFailParams<'_>,
) -> Result<Vec<(JobLease, JobFailOutcome)>> {
    let (ids, tokens): (Vec<Uuid>, Vec<i32>) = params
        .failures
        .iter()
        .map(|f| (f.lease.id, f.lease.token))
        .unzip();
    let delays: Vec<i64> = params
        .failures
        .iter()
        .map(|f| micros(f.retry_delay))
        .collect();
    let errors: Vec<String> = params
        .failures
        .iter()
        .map(|f| bound_error_text(f.error).into_owned())
        .collect();
    let mut rows = conn
        .query(
            "job_fail",
            crate::job_fail(),
            &[
                Param::Uuids(&ids),
                Param::I32s(&tokens),
                Param::I64s(&delays),
                Param::Texts(&errors),
                Param::OptTimestamp(params.now),
            ],
        )
        .await?;
    lease_outcomes(&mut rows, "job_fail", fail_outcome)
}

/// A `held_leases!` statement over leases with one duration (`$3`, µs) and
/// the time (`$4`): `job_release` and `job_keep_alive`.
async fn leases_for(
    conn: &mut dyn Connection,
    operation: &'static str,
    sql: &'static str,
    leases: &[JobLease],
    duration: std::time::Duration,
    now: Option<OffsetDateTime>,
) -> Result<Vec<(JobLease, LeaseOutcome)>> {
    let (ids, tokens) = lease_columns(leases);
    let binds = [
        Param::Uuids(&ids),
        Param::I32s(&tokens),
        Param::I64(micros(duration)),
        Param::OptTimestamp(now),
    ];
    let mut rows = conn.query(operation, sql, &binds).await?;
    lease_outcomes(&mut rows, operation, lease_outcome)
}

/// `Backend::job_release`.
pub async fn job_release(
    conn: &mut dyn Connection,
    params: JobReleaseParams<'_>,
) -> Result<Vec<(JobLease, LeaseOutcome)>> {
    let sql = crate::job_release(params.skip_busy);
    leases_for(
        conn,
        "job_release",
        sql,
        params.leases,
        params.delay,
        params.now,
    )
    .await
}

/// `Backend::job_keep_alive`.
pub async fn job_keep_alive(
    conn: &mut dyn Connection,
    params: JobKeepAliveParams<'_>,
) -> Result<Vec<(JobLease, LeaseOutcome)>> {
    let sql = crate::job_keep_alive();
    leases_for(
        conn,
        "job_keep_alive",
        sql,
        params.leases,
        params.lease,
        params.now,
    )
    .await
}

/// `Backend::job_checkpoint`.
pub async fn job_checkpoint(
    conn: &mut dyn Connection,
    params: JobCheckpointParams<'_>,
) -> Result<bool> {
    let changed = conn
        .execute(
            "job_checkpoint",
            statements::JOB_CHECKPOINT,
            &[
                Param::Uuid(params.lease.id),
                Param::I32(params.lease.token),
                Param::OptText(params.payload_json),
                Param::OptBytes(params.payload_bytes),
                Param::I64(i64::from(params.extra_retries)),
                Param::OptI64(params.keep_alive.map(micros)),
                Param::OptTimestamp(params.now),
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// `Backend::job_commit`, then the notifications for the committed jobs.
pub async fn job_commit(
    conn: &mut dyn Connection,
    params: JobCommitParams<'_>,
) -> Result<Vec<Uuid>> {
    let op = "job_commit";
    let mut rows = conn
        .query(
            op,
            statements::JOB_COMMIT,
            &[Param::Uuids(params.ids), Param::OptTimestamp(params.now)],
        )
        .await?;
    let mut committed = HashSet::new();
    let mut payloads = HashSet::new();
    for row in &mut rows {
        committed.insert(get::<Uuid>(row, op, "id")?);
        let state = parse_state(op, &get::<String>(row, op, "state")?)?;
        if state != JobState::Blocked {
            payloads.insert(notification(
                state,
                &get::<String>(row, op, "channel_name")?,
            ));
        }
    }
    let rest: Vec<Uuid> = params
        .ids
        .iter()
        .filter(|id| !committed.contains(*id))
        .copied()
        .collect();
    let mut missing = Vec::new();
    if !rest.is_empty() {
        let mut before = conn
            .query(op, statements::JOB_COMMIT_CHECK, &[Param::Uuids(&rest)])
            .await?;
        let before: HashSet<Uuid> = before
            .iter_mut()
            .map(|row| get(row, op, "id"))
            .collect::<Result<_>>()?;
        missing = rest.into_iter().filter(|id| !before.contains(id)).collect();
    }
    notify(conn, &payloads.into_iter().collect::<Vec<_>>()).await?;
    Ok(missing)
}

/// `Backend::job_schedule`, with `job_settle_ordered.sql` when asked to
/// settle ordered channels.
pub async fn job_schedule(
    conn: &mut dyn Connection,
    params: JobScheduleParams,
) -> Result<JobScheduleResult> {
    let op = "job_schedule";
    let mut rows = conn
        .query(
            op,
            statements::JOB_SCHEDULE,
            &[
                Param::OptTimestamp(params.now),
                Param::OptTimestamp(params.due_after),
            ],
        )
        .await?;
    let row = rows
        .first_mut()
        .ok_or_else(|| corrupt(op, "no row".to_owned()))?;
    let mut unblocked = 0;
    if params.settle_ordered {
        let mut rows = conn
            .query(
                op,
                statements::JOB_SETTLE_ORDERED,
                &[Param::OptTimestamp(params.now)],
            )
            .await?;
        if let Some(settled) = rows.first_mut() {
            unblocked = count(settled, op, "unblocked")?;
        }
    }
    let next_due_us: Option<i64> = get(row, op, "next_due_us")?;
    let due_until: Option<OffsetDateTime> = get(row, op, "due_until")?;
    let result = JobScheduleResult::new(
        count(row, op, "made_ready")?,
        count(row, op, "rescued")?,
        count(row, op, "discarded")?,
        unblocked,
        next_due_us.map(from_micros),
    );
    Ok(match due_until {
        Some(until) => result.with_due_until(until),
        None => result,
    })
}

fn job_info(row: &mut Row) -> Result<JobInfo> {
    let op = "job_get";
    let mut job = JobInfo::new(
        get(row, op, "id")?,
        get(row, op, "name")?,
        parse_state(op, &get::<String>(row, op, "state")?)?,
    );
    job.seq = get(row, op, "seq")?;
    job.channel_name = get(row, op, "channel_name")?;
    job.channel_args = get(row, op, "channel_args")?;
    job.ordered = get(row, op, "ordered")?;
    job.attempt = get(row, op, "attempt")?;
    job.retries = get(row, op, "retries")?;
    job.retry_backoff = from_micros(get(row, op, "retry_backoff_us")?);
    job.retry_backoff_max = get::<Option<i64>>(row, op, "retry_backoff_max_us")?.map(from_micros);
    job.retry_jitter = get(row, op, "retry_jitter")?;
    job.timeout = get::<Option<i64>>(row, op, "timeout_us")?.map(from_micros);
    job.unique_key = get(row, op, "unique_key")?;
    job.unique_for = get::<Option<i64>>(row, op, "unique_for_us")?.map(from_micros);
    job.priority = i16::try_from(get::<i32>(row, op, "priority")?)
        .map_err(|_| corrupt(op, "a priority out of the smallint range".to_owned()))?;
    job.run_at = get(row, op, "run_at")?;
    job.commit_deadline = get(row, op, "commit_deadline")?;
    job.created_at = get(row, op, "created_at")?;
    job.payload_json = get(row, op, "payload_json")?;
    job.payload_bytes = get(row, op, "payload_bytes")?;
    job.trace_context = get(row, op, "trace_context")?;
    job.tick = get(row, op, "tick")?;
    let errors: Option<String> = get(row, op, "errors")?;
    job.errors = parse_errors(errors.as_deref()).map_err(|e| corrupt(op, e))?;
    job.ordered_ahead = get::<Option<i64>>(row, op, "ordered_ahead")?
        .map(|ahead| u64::try_from(ahead).unwrap_or(0));
    Ok(job)
}

/// `Backend::job_get`.
pub async fn job_get(conn: &mut dyn Connection, params: JobGetParams) -> Result<Option<JobInfo>> {
    let mut rows = conn
        .query("job_get", statements::JOB_GET, &[Param::Uuid(params.id)])
        .await?;
    rows.first_mut().map(job_info).transpose()
}

fn job_summary(row: &mut Row) -> Result<JobSummary> {
    let op = "job_list";
    let mut job = JobSummary::new(
        get(row, op, "id")?,
        get(row, op, "name")?,
        parse_state(op, &get::<String>(row, op, "state")?)?,
    );
    job.seq = get(row, op, "seq")?;
    job.channel_name = get(row, op, "channel_name")?;
    job.channel_args = get(row, op, "channel_args")?;
    job.ordered = get(row, op, "ordered")?;
    job.attempt = get(row, op, "attempt")?;
    job.retries = get(row, op, "retries")?;
    job.run_at = get(row, op, "run_at")?;
    job.created_at = get(row, op, "created_at")?;
    let last_error: Option<String> = get(row, op, "last_error")?;
    job.last_error = parse_error(last_error.as_deref()).map_err(|e| corrupt(op, e))?;
    Ok(job)
}

/// `Backend::job_list`.
pub async fn job_list(
    conn: &mut dyn Connection,
    params: JobListParams<'_>,
) -> Result<Vec<JobSummary>> {
    let filter = &params.filter;
    let (states, finished_before_us) = filter::owned_parts(filter);
    let mut binds = vec![
        Param::Uuid(params.after.unwrap_or(Uuid::nil())),
        Param::I64(i64::from(params.limit)),
        Param::OptTimestamp(filter.now),
    ];
    filter::bind(filter, &states, &finished_before_us, &mut binds);
    let mut rows = conn
        .query("job_list", filter::JOB_LIST.text(filter), &binds)
        .await?;
    rows.iter_mut().map(job_summary).collect()
}

/// The ids of deleted or retried jobs, in spawn order.
fn in_spawn_order(rows: &mut [Row], operation: &'static str) -> Result<Vec<Uuid>> {
    let mut jobs = rows
        .iter_mut()
        .map(|row| {
            Ok((
                get::<i64>(row, operation, "seq")?,
                get(row, operation, "id")?,
            ))
        })
        .collect::<Result<Vec<(i64, Uuid)>>>()?;
    jobs.sort_unstable();
    Ok(jobs.into_iter().map(|(_, id)| id).collect())
}

/// `Backend::job_retry`, then the notifications for the retried jobs.
pub async fn job_retry(conn: &mut dyn Connection, params: JobRetryParams<'_>) -> Result<Vec<Uuid>> {
    let op = "job_retry";
    let filter = &params.filter;
    let (states, finished_before_us) = filter::owned_parts(filter);
    let mut binds = vec![Param::OptTimestamp(filter.now)];
    filter::bind(filter, &states, &finished_before_us, &mut binds);
    let mut rows = conn
        .query(op, filter::JOB_RETRY.text(filter), &binds)
        .await?;
    let mut channel_names = HashSet::new();
    for row in &mut rows {
        channel_names.insert(get::<String>(row, op, "channel_name")?);
    }
    let retried = in_spawn_order(&mut rows, op)?;
    notify(
        conn,
        &ready_notifications(channel_names.iter().map(String::as_str)),
    )
    .await?;
    Ok(retried)
}

/// `Backend::job_delete`.
pub async fn job_delete(
    conn: &mut dyn Connection,
    params: JobDeleteParams<'_>,
) -> Result<Vec<Uuid>> {
    let filter = &params.filter;
    let (states, finished_before_us) = filter::owned_parts(filter);
    let mut binds = vec![Param::OptTimestamp(filter.now)];
    filter::bind(filter, &states, &finished_before_us, &mut binds);
    let mut rows = conn
        .query("job_delete", filter::JOB_DELETE.text(filter), &binds)
        .await?;
    in_spawn_order(&mut rows, "job_delete")
}

/// `Backend::job_stats`: the counts, then the paused channels.
pub async fn job_stats(conn: &mut dyn Connection, params: JobStatsParams) -> Result<QueueStats> {
    let op = "job_stats";
    let mut rows = conn
        .query(
            op,
            statements::JOB_STATS,
            &[Param::OptTimestamp(params.now)],
        )
        .await?;
    let counts = rows
        .iter_mut()
        .map(|row| {
            let oldest_ready_us: Option<i64> = get(row, op, "oldest_ready_us")?;
            Ok(JobStateCount::new(
                get(row, op, "channel_name")?,
                parse_state(op, &get::<String>(row, op, "state")?)?,
                count(row, op, "count")?,
                count(row, op, "ordered")?,
                oldest_ready_us.map(from_micros),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut rows = conn.query(op, statements::CHANNEL_PAUSES, &[]).await?;
    let paused = rows
        .iter_mut()
        .map(|row| {
            Ok(ChannelPause::new(
                get(row, op, "channel_name")?,
                get(row, op, "paused_at")?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(QueueStats::new(counts, paused))
}

/// `Backend::job_cancel`, then the notifications to the runners of the
/// running jobs it cancelled.
pub async fn job_cancel(
    conn: &mut dyn Connection,
    params: JobCancelParams<'_>,
) -> Result<Vec<(Uuid, CancelOutcome)>> {
    let op = "job_cancel";
    let mut rows = conn
        .query(
            op,
            statements::JOB_CANCEL,
            &[Param::Uuids(params.ids), Param::OptTimestamp(params.now)],
        )
        .await?;
    let mut outcomes = Vec::with_capacity(rows.len());
    let mut payloads = Vec::new();
    let mut unblocked = BTreeSet::new();
    for row in &mut rows {
        let id: Uuid = get(row, op, "id")?;
        let state = parse_state(op, &get::<String>(row, op, "state")?)?;
        let cancelled: bool = get(row, op, "cancelled")?;
        let channel_name: String = get(row, op, "channel_name")?;
        if cancelled && get::<bool>(row, op, "ordered")? && state != JobState::Blocked {
            // It held its channel: the next job there is unblocked.
            unblocked.insert(channel_name);
        }
        let outcome = match (cancelled, state) {
            (true, JobState::Running) => {
                payloads.push(cancel_notification(id));
                CancelOutcome::CancelledRunning
            }
            (true, _) => CancelOutcome::Cancelled,
            (false, state) => CancelOutcome::Finished(state),
        };
        outcomes.push((id, outcome));
    }
    payloads.extend(ready_notifications(unblocked.iter().map(String::as_str)));
    notify(conn, &payloads).await?;
    Ok(outcomes)
}

/// `Backend::channel_pause`; a resume wakes up listening runners.
pub async fn channel_pause(
    conn: &mut dyn Connection,
    params: ChannelPauseParams<'_>,
) -> Result<bool> {
    let op = "channel_pause";
    let name = Param::Text(params.channel_name);
    let changed = match params.action {
        PauseAction::Pause => {
            let at = Param::OptTimestamp(params.now);
            !conn
                .query(op, statements::CHANNEL_PAUSE, &[name, at])
                .await?
                .is_empty()
        }
        PauseAction::Resume => {
            let resumed = !conn
                .query(op, statements::CHANNEL_RESUME, &[name])
                .await?
                .is_empty();
            if resumed {
                notify(conn, &ready_notifications([params.channel_name])).await?;
            }
            resumed
        }
    };
    Ok(changed)
}

/// A statement made at run time, kept for the life of the process: the
/// connections take `'static` text (sqlx's simple protocol asks it), and
/// the statements made are few (one per index of `mq_jobs`), so each
/// distinct one is kept once.
fn interned(sql: String) -> &'static str {
    static KEPT: std::sync::Mutex<BTreeSet<&'static str>> = std::sync::Mutex::new(BTreeSet::new());
    let mut kept = KEPT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(known) = kept.get(sql.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(sql.into_boxed_str());
    kept.insert(leaked);
    leaked
}

/// How long one index rebuild may take before it is given up (and its
/// unfinished copy dropped by the next vacuum).
const REBUILD_TIMEOUT: &str = "SET statement_timeout = '60s'";

/// After a vacuum: drops unfinished rebuilds, then rebuilds the indexes
/// that a held-back xmin horizon left bloated (`job_vacuum_bloated.sql`),
/// one at a time, each bounded by [`REBUILD_TIMEOUT`] where a setting may
/// span statements (not through a transaction pooler). A rebuild that
/// fails (no ownership of the table, a timeout) is logged and skipped: it
/// only costs space.
async fn rebuild_bloated_indexes(conn: &mut dyn Connection) -> Result<()> {
    let op = "job_vacuum";
    let mut invalid = conn.query(op, statements::JOB_VACUUM_INVALID, &[]).await?;
    for row in &mut invalid {
        let index: String = get(row, op, "index_name")?;
        let drop = interned(format!("DROP INDEX CONCURRENTLY IF EXISTS {index}"));
        if let Err(error) = conn.batch_execute(op, drop).await {
            tracing::warn!(%error, index, "could not drop an unfinished index rebuild");
        }
    }
    let mut bloated = conn.query(op, statements::JOB_VACUUM_BLOATED, &[]).await?;
    if bloated.is_empty() {
        return Ok(());
    }
    let timeout = conn.pooling() == Pooling::Session;
    if timeout {
        conn.batch_execute(op, REBUILD_TIMEOUT).await?;
    }
    for row in &mut bloated {
        let index: String = get(row, op, "index_name")?;
        let reindex = interned(format!("REINDEX INDEX CONCURRENTLY {index}"));
        match conn.batch_execute(op, reindex).await {
            Ok(()) => tracing::debug!(index, "rebuilt a bloated index"),
            Err(error) => tracing::warn!(%error, index, "could not rebuild a bloated index"),
        }
    }
    if timeout {
        conn.batch_execute(op, "RESET statement_timeout").await?;
    }
    Ok(())
}

/// Takes the vacuum lock (a session-level advisory lock, so that runners
/// vacuum one at a time) if no one else holds it. Through a transaction
/// pooler a session lock could outlive the call on a server connection
/// that other clients then use, so none is taken: `VACUUM (SKIP_LOCKED)`
/// skips a table another vacuum holds, and two runners may at worst
/// rebuild the same bloated index one after the other.
async fn lock_vacuum(conn: &mut dyn Connection) -> Result<bool> {
    let op = "job_vacuum";
    if conn.pooling() == Pooling::Transaction {
        return Ok(true);
    }
    let key = [Param::I64(VACUUM_LOCK_KEY)];
    let mut rows = conn.query(op, statements::JOB_VACUUM_LOCK, &key).await?;
    match rows.first_mut() {
        Some(row) => get(row, op, "locked"),
        None => Ok(false),
    }
}

/// Releases what [`lock_vacuum`] took.
async fn unlock_vacuum(conn: &mut dyn Connection) -> Result<()> {
    if conn.pooling() == Pooling::Transaction {
        return Ok(());
    }
    let key = [Param::I64(VACUUM_LOCK_KEY)];
    conn.execute("job_vacuum", statements::JOB_VACUUM_UNLOCK, &key)
        .await
        .map(drop)
}

/// `Backend::job_vacuum`: vacuums `mq_jobs` under the vacuum lock, if no
/// one else holds it, then rebuilds the indexes left bloated.
pub async fn job_vacuum(conn: &mut dyn Connection) -> Result<bool> {
    let op = "job_vacuum";
    let mut rows = conn.query(op, statements::JOB_VACUUM_USEFUL, &[]).await?;
    let (useful, held): (bool, bool) = match rows.first_mut() {
        Some(row) => (get(row, op, "useful")?, get(row, op, "held")?),
        None => (true, false),
    };
    if !useful || !lock_vacuum(conn).await? {
        return Ok(false);
    }
    let mut vacuumed = conn.batch_execute(op, statements::JOB_VACUUM).await;
    // A rebuild would wait for the old snapshot, and bloat again.
    if vacuumed.is_ok() && !held {
        vacuumed = rebuild_bloated_indexes(conn).await;
    }
    // Released even if the vacuum failed; a connection that died took the
    // session lock with it.
    let unlocked = unlock_vacuum(conn).await;
    vacuumed?;
    unlocked?;
    Ok(true)
}

/// `Backend::migrate`: applies the migrations this library carries that the
/// database lacks, in one transaction under an advisory lock, so that
/// concurrent callers apply them once between them.
pub async fn migrate(conn: &mut dyn Connection) -> Result<()> {
    let op = "migrate";
    let latest = latest_version();
    if let Some(version) = applied_version(conn).await? {
        if version > latest {
            return Err(Error::SchemaTooNew {
                found: version,
                supported: latest,
            });
        }
        if version == latest {
            return Ok(());
        }
    }
    let mut tx = conn.begin(op).await?;
    match migrate_locked(&mut *tx).await {
        Ok(()) => tx.commit(op).await,
        Err(error) => {
            // Keep the migration's error; a failed rollback means the
            // connection is gone, which ends the transaction too.
            let _ = tx.rollback(op).await;
            Err(error)
        }
    }
}

/// The migrations proper, in a transaction, under the migration lock.
async fn migrate_locked(conn: &mut dyn Connection) -> Result<()> {
    let op = "migrate";
    let latest = latest_version();
    conn.execute(
        op,
        statements::MIGRATIONS_LOCK,
        &[Param::I64(MIGRATION_LOCK_KEY)],
    )
    .await?;
    conn.batch_execute(op, statements::MIGRATIONS_TABLE).await?;
    let current = applied_version(conn).await?.unwrap_or(0);
    if current > latest {
        return Err(Error::SchemaTooNew {
            found: current,
            supported: latest,
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        conn.batch_execute(op, migration.sql).await?;
        conn.execute(
            op,
            statements::MIGRATIONS_RECORD,
            &[Param::I64(migration.version), Param::Text(migration.name)],
        )
        .await?;
    }
    Ok(())
}

/// The newest migration applied, or `None` before the first.
async fn applied_version(conn: &mut dyn Connection) -> Result<Option<i64>> {
    let op = "migrate";
    let mut rows = conn.query(op, statements::MIGRATIONS_EXIST, &[]).await?;
    let exists: bool = match rows.first_mut() {
        Some(row) => get(row, op, "exists")?,
        None => false,
    };
    if !exists {
        return Ok(None);
    }
    let mut rows = conn.query(op, statements::MIGRATIONS_VERSION, &[]).await?;
    match rows.first_mut() {
        Some(row) => get(row, op, "version"),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use mq_core::backend::JobInsertParams;
    use mq_core::{Error, JobBuilder, Result};

    use super::job_insert;
    use crate::connection::{Connection, Param, Row, Transaction};
    use crate::statements;

    /// A connection on which the notification after an insert fails.
    struct NotifyFails {
        autocommit: bool,
        inserted: bool,
    }

    #[async_trait]
    impl Connection for NotifyFails {
        async fn query(
            &mut self,
            _: &'static str,
            sql: &'static str,
            _: &[Param<'_>],
        ) -> Result<Vec<Row>> {
            self.inserted |= sql == crate::job_insert(false);
            Ok(Vec::new())
        }

        async fn execute(
            &mut self,
            operation: &'static str,
            sql: &'static str,
            _: &[Param<'_>],
        ) -> Result<u64> {
            if sql == statements::JOB_NOTIFY {
                Err(Error::backend(operation, true, "the connection dropped"))
            } else {
                self.inserted = true;
                Ok(1)
            }
        }

        async fn batch_execute(&mut self, _: &'static str, _: &'static str) -> Result<()> {
            Ok(())
        }

        fn autocommit(&self) -> bool {
            self.autocommit
        }

        fn pooling(&self) -> crate::Pooling {
            crate::Pooling::Session
        }

        fn set_pooling(&mut self, _: crate::Pooling) {}

        async fn begin(&mut self, _: &'static str) -> Result<Box<dyn Transaction + '_>> {
            unreachable!("job_insert opens no transaction")
        }
    }

    /// A pooled connection of a notification group that records the
    /// notifications it sends, taking a turn of the executor for each.
    struct Grouped {
        key: &'static str,
        sent: std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>,
    }

    #[async_trait]
    impl Connection for Grouped {
        async fn query(
            &mut self,
            _: &'static str,
            _: &'static str,
            _: &[Param<'_>],
        ) -> Result<Vec<Row>> {
            Ok(Vec::new())
        }

        async fn execute(
            &mut self,
            _: &'static str,
            sql: &'static str,
            params: &[Param<'_>],
        ) -> Result<u64> {
            assert_eq!(sql, statements::JOB_NOTIFY);
            let [Param::Texts(payloads)] = params else {
                panic!("one array of payloads");
            };
            let mut yielded = false;
            // The round trip: other calls run meanwhile.
            futures::future::poll_fn(|cx| {
                if std::mem::replace(&mut yielded, true) {
                    std::task::Poll::Ready(())
                } else {
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            })
            .await;
            self.sent.lock().unwrap().push(payloads.to_vec());
            Ok(1)
        }

        async fn batch_execute(&mut self, _: &'static str, _: &'static str) -> Result<()> {
            Ok(())
        }

        fn autocommit(&self) -> bool {
            true
        }

        fn notify_group(&self) -> Option<crate::GroupKey> {
            Some(self.key.to_owned())
        }

        fn pooling(&self) -> crate::Pooling {
            crate::Pooling::Session
        }

        fn set_pooling(&mut self, _: crate::Pooling) {}

        async fn begin(&mut self, _: &'static str) -> Result<Box<dyn Transaction + '_>> {
            unreachable!("job_insert opens no transaction")
        }
    }

    /// Twenty spawns at once through pooled connections send their
    /// notifications in two statements: the first call's, and one for all
    /// who arrived while it was in flight. Each notification is sent once.
    #[test]
    fn concurrent_spawns_share_their_notification_statements() {
        let sent = std::sync::Arc::default();
        let jobs: Vec<JobBuilder> = (0..20)
            .map(|i| {
                let mut job = JobBuilder::new("j");
                // Distinct notifications (they name the channel), known
                // without the rows an insert returns (this one returns none).
                job.set_channel_name(format!("c{i}"));
                job.set_delay(std::time::Duration::from_secs(1));
                job
            })
            .collect();
        let spawns = jobs.iter().map(|job| {
            let mut conn = Grouped {
                key: "queries::tests::concurrent_spawns",
                sent: std::sync::Arc::clone(&sent),
            };
            async move {
                // Through the `&mut C` impl, as the drivers' sessions go:
                // it once lost the group.
                let mut conn = &mut conn;
                job_insert(
                    &mut conn,
                    JobInsertParams {
                        jobs: vec![job.job()],
                        now: None,
                    },
                )
                .await
            }
        });
        for result in futures::executor::block_on(futures::future::join_all(spawns)) {
            result.unwrap();
        }
        let sent = sent.lock().unwrap();
        assert_eq!(sent.len(), 2, "{sent:?}");
        assert_eq!(sent[0].len(), 1);
        let mut all: Vec<&String> = sent.iter().flatten().collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 20);
    }

    #[test]
    fn a_failed_notification_after_a_committed_insert_is_no_error() {
        // Delayed, so that its notification does not depend on the rows the
        // insert returns (this connection returns none).
        let mut job = JobBuilder::new("j");
        job.set_delay(std::time::Duration::from_secs(1));
        for autocommit in [true, false] {
            let mut conn = NotifyFails {
                autocommit,
                inserted: false,
            };
            let result = futures::executor::block_on(job_insert(
                &mut conn,
                JobInsertParams {
                    jobs: vec![job.job()],
                    now: None,
                },
            ));
            assert!(conn.inserted);
            // Committed on its own: the job is in, so no error. In the
            // caller's transaction: the error aborts it, so report it.
            assert_eq!(result.is_ok(), autocommit, "{result:?}");
        }
    }
}
