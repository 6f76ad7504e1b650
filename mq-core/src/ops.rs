//! The queue-wide calls: commit, clear, exists, state, migrate.
//!
//! Spawning is on [`JobBuilder::spawn`](crate::JobBuilder::spawn) and
//! [`spawn_many`](crate::spawn_many).

use uuid::Uuid;

use crate::backend::{
    JobCommitParams, JobDeleteParams, JobFilter, JobListParams, JobState, MigrateParams,
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
            after_seq: None,
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
