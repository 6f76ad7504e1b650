//! The queue-wide calls: commit, clear, exists, state, migrate.
//!
//! Spawning is on [`JobBuilder::spawn`](crate::JobBuilder::spawn) and
//! [`spawn_many`](crate::spawn_many).

use uuid::Uuid;

use crate::backend::{
    CancelOutcome, JobCancelParams, JobCommitParams, JobDeleteParams, JobFilter, JobListParams,
    JobState, MigrateParams,
};
use crate::error::{Error, Result};
use crate::executor::Executor;

/// Commits jobs spawned with a commit interval (two-phase commit), making
/// them visible to runners. Jobs committed already are left as they are.
///
/// Fails with [`Error::NotFound`] listing the ids that are not waiting for a
/// commit (never spawned, or their interval lapsed and they were
/// discarded); the other ids are committed all the same, so run this inside
/// a transaction and roll it back if you need all-or-nothing.
pub async fn commit<D, E: Executor<D>>(executor: E, ids: &[Uuid]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let missing = executor
        .job_commit(JobCommitParams { ids, now: None })
        .await?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::NotFound { ids: missing })
    }
}

/// Cancels a job that has not finished, from any process, in the
/// caller's transaction if given one.
///
/// A job that has not started (ready, scheduled, blocked, uncommitted, or
/// waiting to retry) is cancelled at once and never runs. A running job is
/// cancelled in the database at once, and its runner is told within a
/// moment ([`CurrentJob::cancelled`](crate::CurrentJob::cancelled)
/// completes, [`is_cancelled`](crate::CurrentJob::is_cancelled) turns
/// true): through a notification as the cancel commits, and in any case at
/// its next keep-alive. Whatever that attempt records later (a completion,
/// a failure) changes nothing. Either way the job stays, in state
/// [`JobState::Cancelled`], for inspection until deleted or pruned
/// ([`admin::prune`](crate::admin::prune)); a cancelled ordered job no
/// longer holds its channel, so the job after it runs.
///
/// Fails with [`Error::NotFound`] if no such job is stored. A job that had
/// finished (failed, completed and kept, or cancelled) is left as it was:
/// [`CancelOutcome::Finished`].
pub async fn cancel<D, E: Executor<D>>(executor: E, id: Uuid) -> Result<CancelOutcome> {
    let outcomes = executor
        .job_cancel(JobCancelParams {
            ids: &[id],
            now: None,
        })
        .await?;
    match outcomes.first() {
        Some((_, outcome)) => Ok(*outcome),
        None => Err(Error::NotFound { ids: vec![id] }),
    }
}

/// Deletes every job, in any state (failed and kept completed ones too),
/// of the given channel names (with any channel arguments). Returns how
/// many jobs were deleted.
pub async fn clear<D, E: Executor<D>, S: AsRef<str>>(
    executor: E,
    channel_names: &[S],
) -> Result<u64> {
    let names: Vec<String> = channel_names
        .iter()
        .map(|s| s.as_ref().to_owned())
        .collect();
    let deleted = executor
        .job_delete(JobDeleteParams {
            filter: JobFilter {
                channel_names: Some(&names),
                ..JobFilter::default()
            },
        })
        .await?;
    Ok(deleted.len() as u64)
}

/// Deletes every job, in any state. Returns how many.
pub async fn clear_all<D, E: Executor<D>>(executor: E) -> Result<u64> {
    let deleted = executor.job_delete(JobDeleteParams::default()).await?;
    Ok(deleted.len() as u64)
}

/// Whether a job exists: it has not completed, been cleared, deleted or
/// discarded. A completed job that is kept does not exist.
pub async fn exists<D, E: Executor<D>>(executor: E, id: Uuid) -> Result<bool> {
    Ok(state(executor, id)
        .await?
        .is_some_and(|state| state != JobState::Completed))
}

/// The state of a job, or `None` if it is not stored.
pub async fn state<D, E: Executor<D>>(executor: E, id: Uuid) -> Result<Option<JobState>> {
    let jobs = executor
        .job_list(JobListParams {
            filter: JobFilter {
                ids: Some(&[id]),
                ..JobFilter::default()
            },
            after: None,
            limit: 1,
        })
        .await?;
    Ok(jobs.first().map(|job| job.state))
}

/// Creates or upgrades the database schema. Safe to call from many
/// processes at once (they apply it once between them), and cheap when the
/// schema is up to date: call it at every start. Fails with
/// [`Error::SchemaTooNew`] against a schema a newer mq wrote.
pub async fn migrate<D, E: Executor<D>>(executor: E) -> Result<()> {
    executor.migrate(MigrateParams::default()).await
}
