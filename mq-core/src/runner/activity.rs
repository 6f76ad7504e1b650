//! The activity task: writes the runner's report (its row, and the
//! attempts that ended since the last report, per minute and channel) every
//! [`activity_interval`](super::JobRunnerOptions::set_activity_interval),
//! and a last one when the runner is done, which also removes its row.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use time::OffsetDateTime;
use uuid::Uuid;

use super::shared::RunnerShared;
use crate::activity::ActivityRecordParams;

pub(crate) async fn run(shared: Arc<RunnerShared>) {
    let Some(interval) = shared.config.activity_interval else {
        return;
    };
    let runner = Uuid::now_v7();
    let mut stopped = shared.stopped().fuse();
    loop {
        {
            let mut sleep = shared.spawner.sleep(interval).fuse();
            if shared.is_stopping() {
                // Reported again as soon as the last attempt ends.
                let mut idle = shared.idle().fuse();
                futures::select_biased! {
                    _ = idle => {},
                    _ = sleep => {},
                }
            } else {
                futures::select_biased! {
                    _ = stopped => {},
                    _ = sleep => {},
                }
            }
        }
        let done = shared.is_done();
        if !done && shared.is_stopping() && shared.running_count() == 0 {
            // Idle, and the claim loop is about to end: the last report
            // waits for it.
            shared.spawner.sleep(CLAIM_LOOP_END_POLL).await;
            continue;
        }
        record(&shared, runner, done).await;
        if done {
            break;
        }
    }
}

/// How often a stopping runner with no attempt left looks whether its
/// claim loop has ended (which `stop` awaits, so this is brief).
const CLAIM_LOOP_END_POLL: Duration = Duration::from_millis(20);

/// Writes one report; counts that could not be written are kept for the
/// next.
async fn record(shared: &RunnerShared, runner: Uuid, stopping: bool) {
    let config = &shared.config;
    let minutes = shared.take_tally();
    let result = shared
        .backend
        .activity_record(ActivityRecordParams {
            runner,
            name: &config.name,
            running: u32::try_from(shared.running_count()).unwrap_or(u32::MAX),
            max_concurrency: u32::try_from(config.max_concurrency).unwrap_or(u32::MAX),
            minutes: &minutes,
            stopping,
            retention: config.activity_retention,
            now: None,
        })
        .await;
    if let Err(error) = result {
        tracing::warn!(%error, "activity_record failed; its counts are kept for the next report");
        shared.restore_tally(
            minutes,
            OffsetDateTime::now_utc() - config.activity_retention,
        );
    }
}

/// The default runner name: the host's name and the process id.
pub(crate) fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}", std::process::id())
}
