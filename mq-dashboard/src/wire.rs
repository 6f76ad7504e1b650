//! What the dashboard needs from mq's core that the core does not offer
//! yet: jobs finished per minute, the runners, and a job list filtered by
//! name. Everything else calls `mq::admin` directly.
//!
//! The types mirror the ones being added to `mq::admin`, field for field,
//! so that the pages render them unchanged once the calls exist.

use std::time::Duration;

use mq::Backend;
use mq::admin::{JobQuery, JobSummary};
use time::OffsetDateTime;
use uuid::Uuid;

// TODO(wire): once mq::admin has `throughput`, `runners`, `MinuteCount`,
// `RunnerInfo` and `JobQuery::set_name`, wiring them is this module alone:
// replace the two structs with `pub(crate) use mq::admin::{MinuteCount,
// RunnerInfo};`, make `throughput` return
// `mq::admin::throughput(backend, since).await.map(Some)` and `runners`
// `mq::admin::runners(backend).await.map(Some)`, and make `set_name` call
// `query.set_name(name)` and return `true`.

/// Jobs of one channel name that finished in one minute
/// (`mq::admin::MinuteCount`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MinuteCount {
    /// The minute's start.
    pub(crate) minute: OffsetDateTime,
    /// The channel name.
    pub(crate) channel_name: String,
    /// Jobs completed in that minute.
    pub(crate) completed: u64,
    /// Failed attempts that will be retried.
    pub(crate) retried: u64,
    /// Jobs failed for good.
    pub(crate) failed: u64,
}

/// A runner as it last reported itself (`mq::admin::RunnerInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RunnerInfo {
    /// The runner's id.
    pub(crate) id: Uuid,
    /// Its name (host and process, as the runner says).
    pub(crate) name: String,
    /// When it started.
    pub(crate) started_at: OffsetDateTime,
    /// When it last reported.
    pub(crate) seen_at: OffsetDateTime,
    /// Jobs it was running then.
    pub(crate) running: u32,
    /// The most it runs at once.
    pub(crate) max_concurrency: u32,
}

/// Jobs finished per minute and channel over the last `since`; `None`
/// while the core does not record them.
pub(crate) async fn throughput(
    backend: &dyn Backend,
    since: Duration,
) -> mq::Result<Option<Vec<MinuteCount>>> {
    let _ = (backend, since);
    Ok(None)
}

/// The runners that reported lately; `None` while the core does not
/// record them.
pub(crate) async fn runners(backend: &dyn Backend) -> mq::Result<Option<Vec<RunnerInfo>>> {
    let _ = backend;
    Ok(None)
}

/// Filters `query` by job name; `false` while the core cannot, in which
/// case the caller keeps the jobs of each page that [`name_matches`].
pub(crate) fn set_name(query: &mut JobQuery, name: &str) -> bool {
    let _ = (query, name);
    false
}

/// Whether a listed job has the name filtered on (for pages the core did
/// not filter).
pub(crate) fn name_matches(job: &JobSummary, name: &str) -> bool {
    job.name == name
}
