//! Conveniences every [`Backend`] gets: the calls users and runners make
//! that are built from its primitives (a job's state, whether it exists,
//! clearing channels, pruning finished jobs), written once here rather than
//! by every backend.

use std::time::Duration;

use async_trait::async_trait;
use uuid::Uuid;

use crate::backend::{Backend, JobState};
use crate::error::Result;

/// Conveniences over [`Backend`]'s primitives, for every backend (the
/// object_store pattern: a small trait to implement, an extension trait
/// that comes with it). Each is the [`mq`](crate) call of the same name
/// on the backend itself.
#[async_trait]
pub trait BackendExt: Backend {
    /// The state of a job, or `None` if it is not stored.
    async fn job_state(&self, id: Uuid) -> Result<Option<JobState>> {
        crate::ops::state(self, id).await
    }

    /// Whether a job exists (see [`exists`](crate::exists)).
    async fn job_exists(&self, id: Uuid) -> Result<bool> {
        crate::ops::exists(self, id).await
    }

    /// Deletes the jobs of these channel names (see
    /// [`clear`](crate::clear)). Returns how many.
    async fn job_clear(&self, channel_names: &[String]) -> Result<u64> {
        crate::ops::clear(self, channel_names).await
    }

    /// Deletes every job (see [`clear_all`](crate::clear_all)). Returns how
    /// many.
    async fn job_clear_all(&self) -> Result<u64> {
        crate::ops::clear_all(self).await
    }

    /// Deletes the jobs in `states` (failed and/or completed) that failed
    /// or completed at least `older_than` ago (see
    /// [`admin::prune`](crate::admin::prune)). Returns how many.
    async fn job_prune(&self, older_than: Duration, states: &[JobState]) -> Result<u64> {
        crate::admin::prune(self, older_than, states).await
    }
}

impl<B: Backend + ?Sized> BackendExt for B {}
