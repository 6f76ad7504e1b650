//! One function per statement of `mq-sql`, on a tokio-postgres connection.
//!
//! Every function takes a [`Conn`]: a client, possibly inside a transaction,
//! and its statement cache when it comes from deadpool. So the same code
//! serves the runner's pool and a caller's own client or transaction.

use std::collections::HashSet;

use deadpool_postgres::StatementCache;
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
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use crate::error::at;

type Params<'p> = [&'p (dyn ToSql + Sync)];

/// Where statements run: a client, whether it is inside a transaction, and
/// its statement cache if it has one.
#[derive(Clone, Copy)]
pub(crate) struct Conn<'a> {
    client: &'a Client,
    cache: Option<&'a StatementCache>,
    in_transaction: bool,
}

impl<'a> Conn<'a> {
    /// A deadpool connection, outside a transaction.
    pub(crate) fn pooled(client: &'a deadpool_postgres::Object) -> Self {
        Self {
            client,
            cache: Some(&client.statement_cache),
            in_transaction: false,
        }
    }

    /// A transaction on a deadpool connection.
    pub(crate) fn pooled_transaction(tx: &'a deadpool_postgres::Transaction<'_>) -> Self {
        Self {
            client: tx.client(),
            cache: Some(&tx.statement_cache),
            in_transaction: true,
        }
    }

    /// A bare tokio-postgres client, outside a transaction.
    pub(crate) fn client(client: &'a Client) -> Self {
        Self {
            client,
            cache: None,
            in_transaction: false,
        }
    }

    /// A bare tokio-postgres transaction.
    pub(crate) fn transaction(tx: &'a tokio_postgres::Transaction<'_>) -> Self {
        Self {
            client: tx.client(),
            cache: None,
            in_transaction: true,
        }
    }

    /// The same connection, preparing every statement for one use.
    fn uncached(self) -> Self {
        Self {
            cache: None,
            ..self
        }
    }

    /// The statement for `sql`: from the connection's cache, or prepared
    /// for this one use.
    async fn prepare(&self, sql: &str) -> std::result::Result<Statement, tokio_postgres::Error> {
        match self.cache {
            Some(cache) => cache.prepare(self.client, sql).await,
            None => self.client.prepare(sql).await,
        }
    }

    async fn query(
        &self,
        operation: &'static str,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Vec<Row>> {
        let statement = self.prepare(sql).await.map_err(at(operation))?;
        self.client
            .query(&statement, params)
            .await
            .map_err(at(operation))
    }

    async fn query_opt(
        &self,
        operation: &'static str,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Option<Row>> {
        let statement = self.prepare(sql).await.map_err(at(operation))?;
        self.client
            .query_opt(&statement, params)
            .await
            .map_err(at(operation))
    }

    async fn query_one(
        &self,
        operation: &'static str,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Row> {
        let statement = self.prepare(sql).await.map_err(at(operation))?;
        self.client
            .query_one(&statement, params)
            .await
            .map_err(at(operation))
    }

    async fn execute(
        &self,
        operation: &'static str,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<u64> {
        let statement = self.prepare(sql).await.map_err(at(operation))?;
        self.client
            .execute(&statement, params)
            .await
            .map_err(at(operation))
    }

    /// Runs SQL with the simple protocol: several statements, no parameters.
    async fn batch_execute(&self, operation: &'static str, sql: &str) -> Result<()> {
        self.client.batch_execute(sql).await.map_err(at(operation))
    }
}

fn get<'r, T: tokio_postgres::types::FromSql<'r>>(
    operation: &'static str,
    row: &'r Row,
    column: &str,
) -> Result<T> {
    row.try_get(column).map_err(at(operation))
}

fn parse_state(operation: &'static str, name: &str) -> Result<JobState> {
    JobState::parse(name).ok_or_else(|| {
        Error::backend(
            operation,
            false,
            format!("unknown job state {name:?}: the database schema is newer than this mq"),
        )
    })
}

pub(crate) async fn job_insert(conn: Conn<'_>, params: JobInsertParams<'_>) -> Result<()> {
    let c = InsertColumns::new(&params.jobs);
    conn.execute(
        "job_insert",
        statements::JOB_INSERT,
        &[
            &c.ids,
            &c.names,
            &c.channel_names,
            &c.channel_args,
            &c.payload_json,
            &c.payload_bytes,
            &c.delays_us,
            &c.retries,
            &c.backoffs_us,
            &c.ordered,
            &c.commit_intervals_us,
            &params.now,
        ],
    )
    .await?;
    notify(conn, &insert_notifications(&params.jobs)).await
}

async fn notify(conn: Conn<'_>, payloads: &[String]) -> Result<()> {
    if payloads.is_empty() {
        return Ok(());
    }
    conn.execute("job_notify", statements::JOB_NOTIFY, &[&payloads])
        .await?;
    Ok(())
}

fn claimed_job(row: &Row) -> Result<ClaimedJob> {
    let op = "job_claim";
    Ok(ClaimedJob::new(
        get(op, row, "id")?,
        get(op, row, "attempt")?,
        get(op, row, "lease_token")?,
        get(op, row, "name")?,
        get(op, row, "channel_name")?,
        get(op, row, "channel_args")?,
        get(op, row, "ordered")?,
        get(op, row, "retries")?,
        from_micros(get(op, row, "retry_backoff_us")?),
        get(op, row, "payload_json")?,
        get(op, row, "payload_bytes")?,
    ))
}

pub(crate) async fn job_claim(
    conn: Conn<'_>,
    params: JobClaimParams<'_>,
) -> Result<Vec<ClaimedJob>> {
    let (after_name, after_args) = params
        .after
        .map_or(("", ""), |c| (c.name.as_str(), c.args.as_str()));
    let limit = i64::from(params.limit);
    let lease = micros(params.lease);
    let mut args: Vec<&(dyn ToSql + Sync)> =
        vec![&limit, &lease, &after_name, &after_args, &params.now];
    if let Some(names) = &params.channel_names {
        args.push(names);
    }
    let sql = mq_sql::job_claim(params.channel_names.is_some());
    let rows = conn.query("job_claim", sql, &args).await?;
    rows.iter().map(claimed_job).collect()
}

fn leases(operation: &'static str, rows: &[Row]) -> Result<Vec<JobLease>> {
    rows.iter()
        .map(|row| {
            Ok(JobLease {
                id: get(operation, row, "id")?,
                token: get(operation, row, "lease_token")?,
            })
        })
        .collect()
}

pub(crate) async fn job_complete(
    conn: Conn<'_>,
    params: JobCompleteParams<'_>,
) -> Result<Vec<JobLease>> {
    let (ids, tokens) = lease_columns(params.leases);
    let rows = if params.keep_completed {
        conn.query(
            "job_complete",
            statements::JOB_COMPLETE_KEEP,
            &[&ids, &tokens, &params.now],
        )
        .await?
    } else {
        conn.query("job_complete", statements::JOB_COMPLETE, &[&ids, &tokens])
            .await?
    };
    leases("job_complete", &rows)
}

pub(crate) async fn job_fail(conn: Conn<'_>, params: JobFailParams<'_>) -> Result<JobFailOutcome> {
    let row = conn
        .query_opt(
            "job_fail",
            statements::JOB_FAIL,
            &[
                &params.lease.id,
                &params.lease.token,
                &micros(params.retry_delay),
                &bound_error_text(params.error).as_ref(),
                &params.now,
            ],
        )
        .await?;
    let Some(row) = row else {
        return Ok(JobFailOutcome::LeaseLost);
    };
    let state: String = get("job_fail", &row, "state")?;
    Ok(match parse_state("job_fail", &state)? {
        JobState::Failed => JobFailOutcome::Failed,
        _ => JobFailOutcome::Retrying,
    })
}

pub(crate) async fn job_release(conn: Conn<'_>, params: JobReleaseParams) -> Result<bool> {
    let released = conn
        .execute(
            "job_release",
            statements::JOB_RELEASE,
            &[
                &params.lease.id,
                &params.lease.token,
                &micros(params.delay),
                &params.now,
            ],
        )
        .await?;
    Ok(released == 1)
}

pub(crate) async fn job_keep_alive(
    conn: Conn<'_>,
    params: JobKeepAliveParams<'_>,
) -> Result<Vec<JobLease>> {
    let (ids, tokens) = lease_columns(params.leases);
    let rows = conn
        .query(
            "job_keep_alive",
            statements::JOB_KEEP_ALIVE,
            &[&ids, &tokens, &micros(params.lease), &params.now],
        )
        .await?;
    leases("job_keep_alive", &rows)
}

pub(crate) async fn job_checkpoint(
    conn: Conn<'_>,
    params: JobCheckpointParams<'_>,
) -> Result<bool> {
    let updated = conn
        .execute(
            "job_checkpoint",
            statements::JOB_CHECKPOINT,
            &[
                &params.lease.id,
                &params.lease.token,
                &params.payload_json,
                &params.payload_bytes,
                &i64::from(params.extra_retries),
            ],
        )
        .await?;
    Ok(updated == 1)
}

pub(crate) async fn job_commit(conn: Conn<'_>, params: JobCommitParams<'_>) -> Result<Vec<Uuid>> {
    let op = "job_commit";
    let rows = conn
        .query(op, statements::JOB_COMMIT, &[&params.ids, &params.now])
        .await?;
    let mut missing = Vec::new();
    let mut payloads = HashSet::new();
    for row in &rows {
        let id: Uuid = get(op, row, "id")?;
        let state: Option<String> = get(op, row, "state")?;
        match state {
            None => missing.push(id),
            Some(state) => {
                let channel_name: String = get(op, row, "channel_name")?;
                payloads.insert(notification(parse_state(op, &state)?, &channel_name));
            }
        }
    }
    notify(conn, &payloads.into_iter().collect::<Vec<_>>()).await?;
    Ok(missing)
}

pub(crate) async fn job_clear(conn: Conn<'_>, params: JobClearParams<'_>) -> Result<u64> {
    match params.channel_names {
        Some(names) => {
            conn.execute("job_clear", statements::JOB_CLEAR, &[&names])
                .await
        }
        None => {
            conn.execute("job_clear", statements::JOB_CLEAR_ALL, &[])
                .await
        }
    }
}

pub(crate) async fn job_exists(conn: Conn<'_>, id: Uuid) -> Result<bool> {
    let row = conn
        .query_one("job_exists", statements::JOB_EXISTS, &[&id])
        .await?;
    get("job_exists", &row, "exists")
}

pub(crate) async fn job_state(conn: Conn<'_>, id: Uuid) -> Result<Option<JobState>> {
    let row = conn
        .query_opt("job_state", statements::JOB_STATE, &[&id])
        .await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let state: String = get("job_state", &row, "state")?;
            parse_state("job_state", &state).map(Some)
        }
    }
}

pub(crate) async fn job_schedule(
    conn: Conn<'_>,
    params: JobScheduleParams,
) -> Result<JobScheduleResult> {
    let op = "job_schedule";
    let row = conn
        .query_one(op, statements::JOB_SCHEDULE, &[&params.now])
        .await?;
    let count = |column: &str| -> Result<u64> {
        let n: i64 = get(op, &row, column)?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let next_due_us: Option<i64> = get(op, &row, "next_due_us")?;
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

fn job_info(row: &Row) -> Result<JobInfo> {
    let op = "job_get";
    let state: String = get(op, row, "state")?;
    let mut job = JobInfo::new(
        get(op, row, "id")?,
        get(op, row, "name")?,
        parse_state(op, &state)?,
    );
    job.seq = get(op, row, "seq")?;
    job.channel_name = get(op, row, "channel_name")?;
    job.channel_args = get(op, row, "channel_args")?;
    job.ordered = get(op, row, "ordered")?;
    job.attempt = get(op, row, "attempt")?;
    job.retries = get(op, row, "retries")?;
    job.retry_backoff = from_micros(get(op, row, "retry_backoff_us")?);
    job.run_at = get(op, row, "run_at")?;
    job.commit_deadline = get(op, row, "commit_deadline")?;
    job.created_at = get(op, row, "created_at")?;
    job.payload_json = get(op, row, "payload_json")?;
    job.payload_bytes = get(op, row, "payload_bytes")?;
    let errors: Option<String> = get(op, row, "errors")?;
    job.errors = parse_errors(errors.as_deref()).map_err(|e| corrupt(op, e))?;
    Ok(job)
}

pub(crate) async fn job_get(conn: Conn<'_>, params: JobGetParams) -> Result<Option<JobInfo>> {
    let row = conn
        .query_opt("job_get", statements::JOB_GET, &[&params.id])
        .await?;
    row.as_ref().map(job_info).transpose()
}

fn job_summary(row: &Row) -> Result<JobSummary> {
    let op = "job_list";
    let state: String = get(op, row, "state")?;
    let mut job = JobSummary::new(
        get(op, row, "id")?,
        get(op, row, "name")?,
        parse_state(op, &state)?,
    );
    job.seq = get(op, row, "seq")?;
    job.channel_name = get(op, row, "channel_name")?;
    job.channel_args = get(op, row, "channel_args")?;
    job.ordered = get(op, row, "ordered")?;
    job.attempt = get(op, row, "attempt")?;
    job.retries = get(op, row, "retries")?;
    job.run_at = get(op, row, "run_at")?;
    job.created_at = get(op, row, "created_at")?;
    let last_error: Option<String> = get(op, row, "last_error")?;
    job.last_error = parse_error(last_error.as_deref()).map_err(|e| corrupt(op, e))?;
    Ok(job)
}

pub(crate) async fn job_list(conn: Conn<'_>, params: JobListParams<'_>) -> Result<Vec<JobSummary>> {
    let state = params.state.map(|state| state.as_str());
    let limit = i64::from(params.limit);
    let rows = conn
        .query(
            "job_list",
            statements::JOB_LIST,
            &[&params.channel_name, &state, &params.after_seq, &limit],
        )
        .await?;
    rows.iter().map(job_summary).collect()
}

pub(crate) async fn job_retry(conn: Conn<'_>, params: JobRetryParams<'_>) -> Result<Vec<Uuid>> {
    let op = "job_retry";
    let rows = match params.ids {
        Some(ids) => {
            conn.query(
                op,
                statements::JOB_RETRY,
                &[&ids, &params.channel_name, &params.now],
            )
            .await?
        }
        None => {
            conn.query(
                op,
                statements::JOB_RETRY_ALL,
                &[&params.channel_name, &params.now],
            )
            .await?
        }
    };
    let mut retried = Vec::with_capacity(rows.len());
    let mut channel_names = HashSet::new();
    for row in &rows {
        retried.push(get::<Uuid>(op, row, "id")?);
        channel_names.insert(get::<String>(op, row, "channel_name")?);
    }
    notify(
        conn,
        &ready_notifications(channel_names.iter().map(String::as_str)),
    )
    .await?;
    Ok(retried)
}

pub(crate) async fn job_delete(conn: Conn<'_>, params: JobDeleteParams<'_>) -> Result<Vec<Uuid>> {
    let rows = conn
        .query("job_delete", statements::JOB_DELETE, &[&params.ids])
        .await?;
    rows.iter()
        .map(|row| get("job_delete", row, "id"))
        .collect()
}

pub(crate) async fn job_prune(conn: Conn<'_>, params: JobPruneParams<'_>) -> Result<u64> {
    conn.execute(
        "job_prune",
        statements::JOB_PRUNE,
        &[
            &state_names(params.states),
            &micros(params.older_than),
            &params.now,
        ],
    )
    .await
}

pub(crate) async fn job_stats(
    conn: Conn<'_>,
    params: JobStatsParams,
) -> Result<Vec<JobStateCount>> {
    let op = "job_stats";
    let rows = conn
        .query(op, statements::JOB_STATS, &[&params.now])
        .await?;
    rows.iter()
        .map(|row| {
            let state: String = get(op, row, "state")?;
            let count: i64 = get(op, row, "count")?;
            let ordered: i64 = get(op, row, "ordered")?;
            let oldest_ready_us: Option<i64> = get(op, row, "oldest_ready_us")?;
            Ok(JobStateCount::new(
                get(op, row, "channel_name")?,
                parse_state(op, &state)?,
                u64::try_from(count).unwrap_or(0),
                u64::try_from(ordered).unwrap_or(0),
                oldest_ready_us.map(from_micros),
            ))
        })
        .collect()
}

/// Vacuums `mq_jobs` under the vacuum lock, if no one else holds it.
pub(crate) async fn job_vacuum(conn: Conn<'_>) -> Result<bool> {
    let op = "job_vacuum";
    let conn = conn.uncached();
    let locked: bool = get(
        op,
        &conn
            .query_one(op, statements::JOB_VACUUM_LOCK, &[&VACUUM_LOCK_KEY])
            .await?,
        "locked",
    )?;
    if !locked {
        return Ok(false);
    }
    let vacuumed = conn.batch_execute(op, statements::JOB_VACUUM).await;
    // Released even if the vacuum failed; a connection that died took
    // the session lock with it.
    let unlocked = conn
        .query_one(op, statements::JOB_VACUUM_UNLOCK, &[&VACUUM_LOCK_KEY])
        .await;
    vacuumed?;
    unlocked?;
    Ok(true)
}

/// Applies the migrations this library carries that the database lacks,
/// under an advisory lock, so that concurrent callers apply them once
/// between them.
///
/// Inside a transaction, the migrations join it (and commit with it).
/// Outside one, they run in a transaction of their own, opened here with
/// `BEGIN`: tokio-postgres can only start a `Transaction` object from a
/// `&mut Client`, and the caller lent a shared one. If the returned future
/// is dropped half-way, that connection is left inside the open transaction
/// (the pool's own migrations use a real `Transaction` instead, see
/// [`migrate_pooled`]).
pub(crate) async fn migrate(conn: Conn<'_>) -> Result<()> {
    let conn = conn.uncached();
    if up_to_date(conn).await? {
        return Ok(());
    }
    if conn.in_transaction {
        return migrate_locked(conn).await;
    }
    conn.batch_execute("migrate", "BEGIN").await?;
    match migrate_locked(conn).await {
        Ok(()) => conn.batch_execute("migrate", "COMMIT").await,
        Err(error) => {
            // Keep the migration's error; a failed rollback means the
            // connection is gone, which ends the transaction too.
            let _ = conn.batch_execute("migrate", "ROLLBACK").await;
            Err(error)
        }
    }
}

/// [`migrate`] on a pooled connection this driver owns: in a
/// `deadpool_postgres::Transaction`, rolled back if the future is dropped,
/// so that the connection goes back to the pool clean.
pub(crate) async fn migrate_pooled(client: &mut deadpool_postgres::Object) -> Result<()> {
    if up_to_date(Conn::pooled(client).uncached()).await? {
        return Ok(());
    }
    let tx = client.transaction().await.map_err(at("migrate"))?;
    migrate_locked(Conn::pooled_transaction(&tx).uncached()).await?;
    tx.commit().await.map_err(at("migrate"))
}

/// Whether the schema is at this library's version already (the fast path,
/// without the lock). Fails if it is newer.
async fn up_to_date(conn: Conn<'_>) -> Result<bool> {
    let latest = latest_version();
    match applied_version(conn).await? {
        Some(version) if version > latest => Err(Error::SchemaTooNew {
            found: version,
            supported: latest,
        }),
        Some(version) => Ok(version == latest),
        None => Ok(false),
    }
}

/// The migrations proper, in the caller's transaction.
///
/// Migration statements bypass the statement cache (see [`Conn::uncached`]):
/// they run once per process, and a cached plan for `mq_migrations` or
/// `mq_jobs` would outlive the schema it was planned for.
async fn migrate_locked(conn: Conn<'_>) -> Result<()> {
    let latest = latest_version();
    conn.execute(
        "migrate",
        statements::MIGRATIONS_LOCK,
        &[&MIGRATION_LOCK_KEY],
    )
    .await?;
    conn.batch_execute("migrate", statements::MIGRATIONS_TABLE)
        .await?;
    let current = applied_version(conn).await?.unwrap_or(0);
    if current > latest {
        return Err(Error::SchemaTooNew {
            found: current,
            supported: latest,
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        conn.batch_execute("migrate", migration.sql).await?;
        conn.execute(
            "migrate",
            statements::MIGRATIONS_RECORD,
            &[&migration.version, &migration.name],
        )
        .await?;
    }
    Ok(())
}

async fn applied_version(conn: Conn<'_>) -> Result<Option<i64>> {
    let row = conn
        .query_one("migrate", statements::MIGRATIONS_EXIST, &[])
        .await?;
    if !get::<bool>("migrate", &row, "exists")? {
        return Ok(None);
    }
    let row = conn
        .query_one("migrate", statements::MIGRATIONS_VERSION, &[])
        .await?;
    get("migrate", &row, "version")
}
