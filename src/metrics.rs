//! Exporting a runner's measurements through the [`metrics`] crate
//! (feature `metrics`): install any `metrics` recorder (Prometheus,
//! StatsD...) and pass [`MetricsExporter`] to the runner.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `mq_jobs_claimed_total` | counter | |
//! | `mq_claim_duration_seconds` | histogram | |
//! | `mq_jobs_finished_total` | counter | `name`, `outcome` (completed, retrying, failed, released, lease_lost) |
//! | `mq_job_duration_seconds` | histogram | `name`, `outcome` |
//! | `mq_jobs_running` | gauge | |
//! | `mq_queue_jobs` | gauge | `channel`, `state` (from [`record_queue_stats`]) |
//! | `mq_queue_oldest_ready_seconds` | gauge | `channel` (from [`record_queue_stats`]) |
//!
//! Queue depth lives in the database, not in a runner: call
//! [`record_queue_stats`] with [`admin::stats`](crate::admin::stats) on a
//! timer in one process.
//!
//! ```no_run
//! # // The example uses the sqlx driver; without it there is nothing to build.
//! # #[cfg(feature = "driver-sqlx")]
//! # async fn doc(pool: sqlx::PgPool, registry: mq::JobRegistry) -> mq::Result<()> {
//! use std::sync::Arc;
//!
//! let runner = registry
//!     .runner(&pool)
//!     .set_metrics(Arc::new(mq::metrics::MetricsExporter))
//!     .run()
//!     .await?;
//! // Elsewhere, every few seconds:
//! mq::metrics::record_queue_stats(&mq::admin::stats(&pool).await?);
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use mq_core::JobState;
use mq_core::admin::QueueStats;
use mq_core::runner::report::{JobReport, RunnerMetrics};

/// A [`RunnerMetrics`] that records through the `metrics` crate's global
/// recorder.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetricsExporter;

impl RunnerMetrics for MetricsExporter {
    fn jobs_claimed(&self, jobs: usize, latency: Duration) {
        metrics::counter!("mq_jobs_claimed_total").increment(jobs as u64);
        metrics::histogram!("mq_claim_duration_seconds").record(latency.as_secs_f64());
    }

    fn job_finished(&self, report: &JobReport<'_>) {
        let labels = [
            ("name", report.name.to_owned()),
            ("outcome", report.outcome.as_str().to_owned()),
        ];
        metrics::counter!("mq_jobs_finished_total", &labels).increment(1);
        metrics::histogram!("mq_job_duration_seconds", &labels)
            .record(report.run_time.as_secs_f64());
    }

    fn jobs_running(&self, running: usize) {
        metrics::gauge!("mq_jobs_running").set(running as f64);
    }
}

/// Sets the queue-depth gauges from [`admin::stats`](crate::admin::stats).
/// Every state of every channel name in `stats` is set, to zero when it has
/// no jobs, so a state that empties does not keep its last count; a channel
/// name that disappears altogether keeps its last values.
pub fn record_queue_stats(stats: &QueueStats) {
    for channel in stats.channel_names() {
        let mut oldest_ready = 0.0;
        for state in JobState::ALL {
            let count = stats
                .counts
                .iter()
                .find(|c| c.channel_name == channel && c.state == state);
            if let Some(age) = count.and_then(|c| c.oldest_ready_age) {
                oldest_ready = age.as_secs_f64();
            }
            let labels = [
                ("channel", channel.to_owned()),
                ("state", state.as_str().to_owned()),
            ];
            metrics::gauge!("mq_queue_jobs", &labels).set(count.map_or(0.0, |c| c.count as f64));
        }
        metrics::gauge!("mq_queue_oldest_ready_seconds", "channel" => channel.to_owned())
            .set(oldest_ready);
    }
}
