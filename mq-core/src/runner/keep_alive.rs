//! The keep-alive task: renews the leases of the runner's attempts at once.

use std::collections::HashMap;
use std::sync::Arc;

use super::shared::RunnerShared;
use crate::backend::{JobKeepAliveParams, LeaseOutcome};

pub(crate) async fn run(shared: Arc<RunnerShared>) {
    // Renewing at a third of the lease leaves two chances to succeed
    // before the lease lapses.
    let interval = shared.config.lease / 3;
    loop {
        shared.spawner.sleep(interval).await;
        if shared.is_done() {
            break;
        }
        let attempts: HashMap<_, _> = shared
            .kept_alive()
            .into_iter()
            .map(|attempt| (attempt.lease, attempt))
            .collect();
        if attempts.is_empty() {
            continue;
        }
        let leases: Vec<_> = attempts.keys().copied().collect();
        let result = shared
            .backend
            .job_keep_alive(JobKeepAliveParams {
                leases: &leases,
                lease: shared.config.lease,
                now: None,
            })
            .await;
        match result {
            Ok(outcomes) => {
                for (lease, outcome) in outcomes {
                    match (outcome, attempts.get(&lease)) {
                        (LeaseOutcome::Lost, Some(attempt)) => {
                            // Only an attempt whose user code still holds
                            // the job loses it here: one being completed
                            // or settled hears it from its own statement.
                            attempt.lose_lease();
                        }
                        // Held by another transaction for now (the row is
                        // being completed, say): renewed next time if
                        // still running.
                        (LeaseOutcome::Busy, _) => {
                            tracing::debug!(job = %lease.id, "keep-alive skipped a busy job")
                        }
                        _ => {}
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "job_keep_alive failed"),
        }
    }
}
