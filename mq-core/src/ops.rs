//! The queue-wide calls: commit, clear, exists, migrate.
//!
//! Spawning is on [`JobBuilder::spawn`](crate::JobBuilder::spawn) and
//! [`spawn_many`](crate::spawn_many).

use uuid::Uuid;

use crate::backend::{JobClearParams, JobCommitParams};
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
    executor
        .job_clear(JobClearParams {
            channel_names: Some(&names),
        })
        .await
}

/// Deletes every job. Returns how many jobs were deleted.
pub async fn clear_all<D, E: Executor<D>>(executor: E) -> Result<u64> {
    executor
        .job_clear(JobClearParams {
            channel_names: None,
        })
        .await
}

/// Whether a job exists: it has been spawned (and, for two-phase commit,
/// not discarded) and has not completed or been cleared or deleted. A job
/// that failed for good still exists, so that it can be inspected; a
/// completed job kept by a runner that keeps completed jobs does not (see
/// [`admin::get`](crate::admin::get) for it).
pub async fn exists<D, E: Executor<D>>(executor: E, id: Uuid) -> Result<bool> {
    executor.job_exists(id).await
}

/// Creates or upgrades mq's tables. Safe to run from many processes at
/// once: they queue on a lock and only the first applies anything. Fails
/// with [`Error::SchemaTooNew`] if a newer mq migrated the database.
pub async fn migrate<D, E: Executor<D>>(executor: E) -> Result<()> {
    executor.migrate().await
}
