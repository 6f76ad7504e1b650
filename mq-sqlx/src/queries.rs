//! One function per statement of `mq-sql`, on a sqlx connection.
//!
//! Every function takes `&mut PgConnection`, so the same code serves the
//! runner's pool and a caller's own connection or transaction. Statements
//! are prepared once per connection and cached by sqlx.

use std::collections::HashSet;

use mq_core::backend::{
    ClaimedJob, JobCheckpointParams, JobClaimParams, JobClearParams, JobCommitParams,
    JobCompleteParams, JobDeleteParams, JobFailOutcome, JobFailParams, JobGetParams, JobInfo,
    JobInsertParams, JobKeepAliveParams, JobLease, JobListParams, JobPruneParams, JobReleaseParams,
    JobRetryParams, JobScheduleParams, JobScheduleResult, JobState, JobStateCount, JobStatsParams,
    JobSummary, bound_error_text,
};
use mq_core::{Error, Result, Uuid};
use mq_sql::{
    InsertColumns, MIGRATION_LOCK_KEY, MIGRATIONS, VACUUM_LOCK_KEY, from_micros,
    insert_notifications, latest_version, lease_columns, micros, notification, parse_error,
    parse_errors, ready_notifications, state_names, statements,
};
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, Row};

use crate::error::{at, interpret_error};

fn parse_state(operation: &'static str, name: &str) -> Result<JobState> {
    JobState::parse(name).ok_or_else(|| {
        Error::backend(
            operation,
            false,
            format!("unknown job state {name:?}: the database schema is newer than this mq"),
        )
    })
}

pub(crate) async fn job_insert(conn: &mut PgConnection, params: JobInsertParams<'_>) -> Result<()> {
    let columns = InsertColumns::new(&params.jobs);
    sqlx::query(statements::JOB_INSERT)
        .bind(&columns.ids)
        .bind(&columns.names)
        .bind(&columns.channel_names)
        .bind(&columns.channel_args)
        .bind(&columns.payload_json)
        .bind(&columns.payload_bytes)
        .bind(&columns.delays_us)
        .bind(&columns.retries)
        .bind(&columns.backoffs_us)
        .bind(&columns.ordered)
        .bind(&columns.commit_intervals_us)
        .bind(params.now)
        .execute(&mut *conn)
        .await
        .map_err(at("job_insert"))?;
    notify(conn, &insert_notifications(&params.jobs)).await
}

async fn notify(conn: &mut PgConnection, payloads: &[String]) -> Result<()> {
    if payloads.is_empty() {
        return Ok(());
    }
    sqlx::query(statements::JOB_NOTIFY)
        .bind(payloads)
        .execute(&mut *conn)
        .await
        .map_err(at("job_notify"))?;
    Ok(())
}

fn claimed_job(row: &PgRow) -> std::result::Result<ClaimedJob, sqlx::Error> {
    Ok(ClaimedJob::new(
        row.try_get("id")?,
        row.try_get("attempt")?,
        row.try_get("lease_token")?,
        row.try_get("name")?,
        row.try_get("channel_name")?,
        row.try_get("channel_args")?,
        row.try_get("ordered")?,
        row.try_get("retries")?,
        from_micros(row.try_get("retry_backoff_us")?),
        row.try_get("payload_json")?,
        row.try_get("payload_bytes")?,
    ))
}

pub(crate) async fn job_claim(
    conn: &mut PgConnection,
    params: JobClaimParams<'_>,
) -> Result<Vec<ClaimedJob>> {
    let (after_name, after_args) = params
        .after
        .map_or(("", ""), |c| (c.name.as_str(), c.args.as_str()));
    let query = sqlx::query(mq_sql::job_claim(params.channel_names.is_some()))
        .bind(i64::from(params.limit))
        .bind(micros(params.lease))
        .bind(after_name)
        .bind(after_args)
        .bind(params.now);
    let query = match params.channel_names {
        Some(names) => query.bind(names),
        None => query,
    };
    let rows = query.fetch_all(&mut *conn).await.map_err(at("job_claim"))?;
    rows.iter()
        .map(claimed_job)
        .collect::<std::result::Result<_, _>>()
        .map_err(at("job_claim"))
}

fn leases(rows: &[PgRow], operation: &'static str) -> Result<Vec<JobLease>> {
    rows.iter()
        .map(|row| {
            Ok(JobLease {
                id: row.try_get("id")?,
                token: row.try_get("lease_token")?,
            })
        })
        .collect::<std::result::Result<_, sqlx::Error>>()
        .map_err(at(operation))
}

pub(crate) async fn job_complete(
    conn: &mut PgConnection,
    params: JobCompleteParams<'_>,
) -> Result<Vec<JobLease>> {
    let (ids, tokens) = lease_columns(params.leases);
    let query = if params.keep_completed {
        sqlx::query(statements::JOB_COMPLETE_KEEP)
            .bind(&ids)
            .bind(&tokens)
            .bind(params.now)
    } else {
        sqlx::query(statements::JOB_COMPLETE)
            .bind(&ids)
            .bind(&tokens)
    };
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .map_err(at("job_complete"))?;
    leases(&rows, "job_complete")
}

pub(crate) async fn job_fail(
    conn: &mut PgConnection,
    params: JobFailParams<'_>,
) -> Result<JobFailOutcome> {
    let state: Option<String> = sqlx::query_scalar(statements::JOB_FAIL)
        .bind(params.lease.id)
        .bind(params.lease.token)
        .bind(micros(params.retry_delay))
        .bind(bound_error_text(params.error).as_ref())
        .bind(params.now)
        .fetch_optional(&mut *conn)
        .await
        .map_err(at("job_fail"))?;
    Ok(match state {
        None => JobFailOutcome::LeaseLost,
        Some(state) if parse_state("job_fail", &state)? == JobState::Failed => {
            JobFailOutcome::Failed
        }
        Some(_) => JobFailOutcome::Retrying,
    })
}

pub(crate) async fn job_release(conn: &mut PgConnection, params: JobReleaseParams) -> Result<bool> {
    let result = sqlx::query(statements::JOB_RELEASE)
        .bind(params.lease.id)
        .bind(params.lease.token)
        .bind(micros(params.delay))
        .bind(params.now)
        .execute(&mut *conn)
        .await
        .map_err(at("job_release"))?;
    Ok(result.rows_affected() == 1)
}

pub(crate) async fn job_keep_alive(
    conn: &mut PgConnection,
    params: JobKeepAliveParams<'_>,
) -> Result<Vec<JobLease>> {
    let (ids, tokens) = lease_columns(params.leases);
    let rows = sqlx::query(statements::JOB_KEEP_ALIVE)
        .bind(&ids)
        .bind(&tokens)
        .bind(micros(params.lease))
        .bind(params.now)
        .fetch_all(&mut *conn)
        .await
        .map_err(at("job_keep_alive"))?;
    leases(&rows, "job_keep_alive")
}

pub(crate) async fn job_checkpoint(
    conn: &mut PgConnection,
    params: JobCheckpointParams<'_>,
) -> Result<bool> {
    let result = sqlx::query(statements::JOB_CHECKPOINT)
        .bind(params.lease.id)
        .bind(params.lease.token)
        .bind(params.payload_json)
        .bind(params.payload_bytes)
        .bind(i64::from(params.extra_retries))
        .execute(&mut *conn)
        .await
        .map_err(at("job_checkpoint"))?;
    Ok(result.rows_affected() == 1)
}

pub(crate) async fn job_commit(
    conn: &mut PgConnection,
    params: JobCommitParams<'_>,
) -> Result<Vec<Uuid>> {
    let rows = sqlx::query(statements::JOB_COMMIT)
        .bind(params.ids)
        .bind(params.now)
        .fetch_all(&mut *conn)
        .await
        .map_err(at("job_commit"))?;
    let mut missing = Vec::new();
    let mut payloads = HashSet::new();
    for row in &rows {
        let id: Uuid = row.try_get("id").map_err(at("job_commit"))?;
        let state: Option<String> = row.try_get("state").map_err(at("job_commit"))?;
        match state {
            None => missing.push(id),
            Some(state) => {
                let channel_name: String = row.try_get("channel_name").map_err(at("job_commit"))?;
                payloads.insert(notification(
                    parse_state("job_commit", &state)?,
                    &channel_name,
                ));
            }
        }
    }
    notify(conn, &payloads.into_iter().collect::<Vec<_>>()).await?;
    Ok(missing)
}

pub(crate) async fn job_clear(conn: &mut PgConnection, params: JobClearParams<'_>) -> Result<u64> {
    let result = match params.channel_names {
        Some(names) => {
            sqlx::query(statements::JOB_CLEAR)
                .bind(names)
                .execute(&mut *conn)
                .await
        }
        None => {
            sqlx::query(statements::JOB_CLEAR_ALL)
                .execute(&mut *conn)
                .await
        }
    };
    Ok(result.map_err(at("job_clear"))?.rows_affected())
}

pub(crate) async fn job_exists(conn: &mut PgConnection, id: Uuid) -> Result<bool> {
    sqlx::query_scalar(statements::JOB_EXISTS)
        .bind(id)
        .fetch_one(&mut *conn)
        .await
        .map_err(at("job_exists"))
}

pub(crate) async fn job_state(conn: &mut PgConnection, id: Uuid) -> Result<Option<JobState>> {
    let state: Option<String> = sqlx::query_scalar(statements::JOB_STATE)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(at("job_state"))?;
    state.map(|s| parse_state("job_state", &s)).transpose()
}

pub(crate) async fn job_schedule(
    conn: &mut PgConnection,
    params: JobScheduleParams,
) -> Result<JobScheduleResult> {
    let row = sqlx::query(statements::JOB_SCHEDULE)
        .bind(params.now)
        .fetch_one(&mut *conn)
        .await
        .map_err(at("job_schedule"))?;
    let count = |column: &str| -> Result<u64> {
        let n: i64 = row.try_get(column).map_err(at("job_schedule"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let next_due_us: Option<i64> = row.try_get("next_due_us").map_err(at("job_schedule"))?;
    Ok(JobScheduleResult::new(
        count("made_ready")?,
        count("rescued")?,
        count("discarded")?,
        next_due_us.map(from_micros),
    ))
}

/// A value read back that is not what mq writes (a newer schema, or a
/// row changed by hand).
fn corrupt(operation: &'static str, reason: String) -> Error {
    Error::backend(operation, false, reason)
}

fn job_info(row: &PgRow) -> Result<JobInfo> {
    let op = "job_get";
    let get = |e| interpret_error(op, e);
    let state: String = row.try_get("state").map_err(get)?;
    let mut job = JobInfo::new(
        row.try_get("id").map_err(get)?,
        row.try_get("name").map_err(get)?,
        parse_state(op, &state)?,
    );
    job.seq = row.try_get("seq").map_err(get)?;
    job.channel_name = row.try_get("channel_name").map_err(get)?;
    job.channel_args = row.try_get("channel_args").map_err(get)?;
    job.ordered = row.try_get("ordered").map_err(get)?;
    job.attempt = row.try_get("attempt").map_err(get)?;
    job.retries = row.try_get("retries").map_err(get)?;
    job.retry_backoff = from_micros(row.try_get("retry_backoff_us").map_err(get)?);
    job.run_at = row.try_get("run_at").map_err(get)?;
    job.commit_deadline = row.try_get("commit_deadline").map_err(get)?;
    job.created_at = row.try_get("created_at").map_err(get)?;
    job.payload_json = row.try_get("payload_json").map_err(get)?;
    job.payload_bytes = row.try_get("payload_bytes").map_err(get)?;
    let errors: Option<String> = row.try_get("errors").map_err(get)?;
    job.errors = parse_errors(errors.as_deref()).map_err(|e| corrupt(op, e))?;
    Ok(job)
}

pub(crate) async fn job_get(
    conn: &mut PgConnection,
    params: JobGetParams,
) -> Result<Option<JobInfo>> {
    let row = sqlx::query(statements::JOB_GET)
        .bind(params.id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(at("job_get"))?;
    row.as_ref().map(job_info).transpose()
}

fn job_summary(row: &PgRow) -> Result<JobSummary> {
    let op = "job_list";
    let get = |e| interpret_error(op, e);
    let state: String = row.try_get("state").map_err(get)?;
    let mut job = JobSummary::new(
        row.try_get("id").map_err(get)?,
        row.try_get("name").map_err(get)?,
        parse_state(op, &state)?,
    );
    job.seq = row.try_get("seq").map_err(get)?;
    job.channel_name = row.try_get("channel_name").map_err(get)?;
    job.channel_args = row.try_get("channel_args").map_err(get)?;
    job.ordered = row.try_get("ordered").map_err(get)?;
    job.attempt = row.try_get("attempt").map_err(get)?;
    job.retries = row.try_get("retries").map_err(get)?;
    job.run_at = row.try_get("run_at").map_err(get)?;
    job.created_at = row.try_get("created_at").map_err(get)?;
    let last_error: Option<String> = row.try_get("last_error").map_err(get)?;
    job.last_error = parse_error(last_error.as_deref()).map_err(|e| corrupt(op, e))?;
    Ok(job)
}

pub(crate) async fn job_list(
    conn: &mut PgConnection,
    params: JobListParams<'_>,
) -> Result<Vec<JobSummary>> {
    let rows = sqlx::query(statements::JOB_LIST)
        .bind(params.channel_name)
        .bind(params.state.map(|state| state.as_str()))
        .bind(params.after_seq)
        .bind(i64::from(params.limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(at("job_list"))?;
    rows.iter().map(job_summary).collect()
}

pub(crate) async fn job_retry(
    conn: &mut PgConnection,
    params: JobRetryParams<'_>,
) -> Result<Vec<Uuid>> {
    let op = "job_retry";
    let query = match params.ids {
        Some(ids) => sqlx::query(statements::JOB_RETRY)
            .bind(ids)
            .bind(params.channel_name)
            .bind(params.now),
        None => sqlx::query(statements::JOB_RETRY_ALL)
            .bind(params.channel_name)
            .bind(params.now),
    };
    let rows = query.fetch_all(&mut *conn).await.map_err(at(op))?;
    let mut retried = Vec::with_capacity(rows.len());
    let mut channel_names = HashSet::new();
    for row in &rows {
        retried.push(row.try_get::<Uuid, _>("id").map_err(at(op))?);
        channel_names.insert(row.try_get::<String, _>("channel_name").map_err(at(op))?);
    }
    notify(
        conn,
        &ready_notifications(channel_names.iter().map(String::as_str)),
    )
    .await?;
    Ok(retried)
}

pub(crate) async fn job_delete(
    conn: &mut PgConnection,
    params: JobDeleteParams<'_>,
) -> Result<Vec<Uuid>> {
    sqlx::query_scalar(statements::JOB_DELETE)
        .bind(params.ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(at("job_delete"))
}

pub(crate) async fn job_prune(conn: &mut PgConnection, params: JobPruneParams<'_>) -> Result<u64> {
    let result = sqlx::query(statements::JOB_PRUNE)
        .bind(state_names(params.states))
        .bind(micros(params.older_than))
        .bind(params.now)
        .execute(&mut *conn)
        .await
        .map_err(at("job_prune"))?;
    Ok(result.rows_affected())
}

pub(crate) async fn job_stats(
    conn: &mut PgConnection,
    params: JobStatsParams,
) -> Result<Vec<JobStateCount>> {
    let op = "job_stats";
    let rows = sqlx::query(statements::JOB_STATS)
        .bind(params.now)
        .fetch_all(&mut *conn)
        .await
        .map_err(at(op))?;
    rows.iter()
        .map(|row| {
            let get = |e| interpret_error(op, e);
            let state: String = row.try_get("state").map_err(get)?;
            let count: i64 = row.try_get("count").map_err(get)?;
            let ordered: i64 = row.try_get("ordered").map_err(get)?;
            let oldest_ready_us: Option<i64> = row.try_get("oldest_ready_us").map_err(get)?;
            Ok(JobStateCount::new(
                row.try_get("channel_name").map_err(get)?,
                parse_state(op, &state)?,
                u64::try_from(count).unwrap_or(0),
                u64::try_from(ordered).unwrap_or(0),
                oldest_ready_us.map(from_micros),
            ))
        })
        .collect()
}

/// Vacuums `mq_jobs` under the vacuum lock, if no one else holds it.
pub(crate) async fn job_vacuum(conn: &mut PgConnection) -> Result<bool> {
    let op = "job_vacuum";
    let locked: bool = sqlx::query_scalar(statements::JOB_VACUUM_LOCK)
        .bind(VACUUM_LOCK_KEY)
        .fetch_one(&mut *conn)
        .await
        .map_err(at(op))?;
    if !locked {
        return Ok(false);
    }
    let vacuumed = sqlx::raw_sql(statements::JOB_VACUUM)
        .execute(&mut *conn)
        .await
        .map_err(at(op));
    // Released even if the vacuum failed; a connection that died took
    // the session lock with it.
    let unlocked = sqlx::query(statements::JOB_VACUUM_UNLOCK)
        .bind(VACUUM_LOCK_KEY)
        .execute(&mut *conn)
        .await
        .map_err(at(op));
    vacuumed?;
    unlocked?;
    Ok(true)
}

/// Applies the migrations this library carries that the database lacks, in
/// one transaction under an advisory lock, so concurrent callers apply them
/// once between them.
pub(crate) async fn migrate(conn: &mut PgConnection) -> Result<()> {
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
    let mut tx = conn.begin().await.map_err(at("migrate"))?;
    sqlx::query(statements::MIGRATIONS_LOCK)
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut *tx)
        .await
        .map_err(at("migrate"))?;
    sqlx::raw_sql(statements::MIGRATIONS_TABLE)
        .execute(&mut *tx)
        .await
        .map_err(at("migrate"))?;
    let current = applied_version(&mut tx).await?.unwrap_or(0);
    if current > latest {
        return Err(Error::SchemaTooNew {
            found: current,
            supported: latest,
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        sqlx::raw_sql(migration.sql)
            .execute(&mut *tx)
            .await
            .map_err(at("migrate"))?;
        sqlx::query(statements::MIGRATIONS_RECORD)
            .bind(migration.version)
            .bind(migration.name)
            .execute(&mut *tx)
            .await
            .map_err(at("migrate"))?;
    }
    tx.commit().await.map_err(at("migrate"))
}

async fn applied_version(conn: &mut PgConnection) -> Result<Option<i64>> {
    let exists: bool = sqlx::query_scalar(statements::MIGRATIONS_EXIST)
        .fetch_one(&mut *conn)
        .await
        .map_err(at("migrate"))?;
    if !exists {
        return Ok(None);
    }
    sqlx::query_scalar(statements::MIGRATIONS_VERSION)
        .fetch_one(&mut *conn)
        .await
        .map_err(at("migrate"))
}
