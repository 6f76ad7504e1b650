//! The keep-alive task: renews the leases of every running job at once.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::shared::RunnerShared;
use crate::backend::JobKeepAliveParams;

pub(crate) async fn run(shared: Arc<RunnerShared>) {
    // Renewing at a third of the lease leaves two chances to succeed
    // before the lease lapses.
    let interval = shared.config.lease / 3;
    loop {
        shared.spawner.sleep(interval).await;
        if shared.is_stopping() && shared.running_count() == 0 {
            break;
        }
        let running = shared.running_leases();
        if running.is_empty() {
            continue;
        }
        let leases: Vec<_> = running.iter().map(|(lease, _)| *lease).collect();
        let result = shared
            .backend
            .job_keep_alive(JobKeepAliveParams {
                leases: &leases,
                lease: shared.config.lease,
                now: None,
            })
            .await;
        match result {
            Ok(kept) => {
                let kept: HashSet<_> = kept.into_iter().collect();
                for (lease, lost) in running {
                    if !kept.contains(&lease) {
                        tracing::warn!(job = %lease.id, lease = lease.token, "lost the lease of a running job");
                        lost.store(true, Ordering::SeqCst);
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "job_keep_alive failed"),
        }
    }
}
