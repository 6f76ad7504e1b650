//! mq, with either of its PostgreSQL drivers on tokio.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use mq::admin::{ChannelLimit, QueueStats};
use mq::{CurrentJob, JobBuilder, JobRunnerHandle, JobRunnerOptions};
use mq_tokio_postgres::TokioPostgresBackend;

use super::{Config, Profile, RunnerHandle, RunnerOptions, System, SystemKind};
use crate::recorder::{ClaimTimes, Payload, Recorder};

/// The tuned runner's concurrency (min, max).
const TUNED_CONCURRENCY: (usize, usize) = (256, 1024);

enum Driver {
    Sqlx(sqlx::PgPool),
    TokioPostgres {
        pool: deadpool_postgres::Pool,
        backend: TokioPostgresBackend,
    },
}

/// mq on one of its drivers.
pub struct MqSystem {
    kind: SystemKind,
    driver: Driver,
    admin: sqlx::PgPool,
}

/// Applies mq's migrations to the database at `url`.
pub async fn migrate(url: &str) -> Result<()> {
    let pool = crate::db::pool(url, 1).await?;
    mq::migrate(&pool).await.context("mq::migrate")?;
    pool.close().await;
    Ok(())
}

impl MqSystem {
    /// Connects `kind` (one of mq's drivers) to its database at `url`.
    pub async fn connect(kind: SystemKind, url: &str, config: &Config) -> Result<Self> {
        let admin = crate::db::pool(url, 2).await?;
        let driver = match kind {
            SystemKind::MqTokioPostgres => {
                let pg_config: tokio_postgres::Config = url.parse()?;
                let manager =
                    deadpool_postgres::Manager::new(pg_config.clone(), tokio_postgres::NoTls);
                let pool = deadpool_postgres::Pool::builder(manager)
                    .max_size(config.pool_size as usize)
                    .build()?;
                let backend = TokioPostgresBackend::new(pool.clone(), pg_config);
                Driver::TokioPostgres { pool, backend }
            }
            _ => {
                Driver::Sqlx(crate::db::system_pool(url, config.pool_size, config.pool_ping).await?)
            }
        };
        Ok(MqSystem {
            kind,
            driver,
            admin,
        })
    }

    fn builder(job: &Payload) -> Result<JobBuilder> {
        let mut builder = JobBuilder::new("bench");
        builder.set_json(job)?;
        if let Some((channel, _)) = job.ord {
            builder
                .set_channel_name("ordered")
                .set_channel_args(channel.to_string())
                .set_ordered(true);
        }
        Ok(builder)
    }

    /// Spawns `builders` with one [`mq::spawn_many`] through this system's
    /// driver.
    pub async fn spawn_builders(&self, builders: &[JobBuilder]) -> Result<()> {
        match &self.driver {
            Driver::Sqlx(pool) => mq::spawn_many(pool, builders).await?,
            Driver::TokioPostgres { pool, .. } => mq::spawn_many(pool, builders).await?,
        };
        Ok(())
    }

    /// Spawns `jobs`, unordered, on the channel named `channel_name` (the
    /// [`System`] calls put unordered jobs on the unnamed channel).
    pub async fn preload_on_channel(&self, channel_name: &str, jobs: &[Payload]) -> Result<()> {
        let builders = jobs
            .iter()
            .map(|job| {
                let mut builder = Self::builder(job)?;
                builder.set_channel_name(channel_name);
                Ok(builder)
            })
            .collect::<Result<Vec<_>>>()?;
        self.spawn_builders(&builders).await
    }

    /// Spawns one unordered job of `priority` on the channel named
    /// `channel_name`.
    pub async fn spawn_with_priority(
        &self,
        channel_name: &str,
        priority: i16,
        job: &Payload,
    ) -> Result<()> {
        let mut builder = Self::builder(job)?;
        builder
            .set_channel_name(channel_name)
            .set_priority(priority);
        self.spawn_builders(std::slice::from_ref(&builder)).await
    }

    /// Job counts per channel name and state ([`mq::admin::stats`]),
    /// through this system's driver.
    pub async fn stats(&self) -> Result<QueueStats> {
        Ok(match &self.driver {
            Driver::Sqlx(pool) => mq::admin::stats(pool).await?,
            Driver::TokioPostgres { pool, .. } => mq::admin::stats(pool).await?,
        })
    }

    /// Sets (or replaces) a channel's limit ([`mq::admin::set_limit`]),
    /// through this system's driver: runners started afterwards claim its
    /// jobs only as the limit allows.
    pub async fn set_limit(&self, limit: &ChannelLimit) -> Result<()> {
        match &self.driver {
            Driver::Sqlx(pool) => mq::admin::set_limit(pool, limit).await?,
            Driver::TokioPostgres { pool, .. } => mq::admin::set_limit(pool, limit).await?,
        };
        Ok(())
    }

    /// Removes a channel's limit ([`mq::admin::remove_limit`]), through
    /// this system's driver.
    pub async fn remove_limit(&self, channel_name: &str) -> Result<()> {
        match &self.driver {
            Driver::Sqlx(pool) => mq::admin::remove_limit(pool, channel_name).await?,
            Driver::TokioPostgres { pool, .. } => {
                mq::admin::remove_limit(pool, channel_name).await?
            }
        };
        Ok(())
    }

    /// Default runner options on this system's driver, handing each
    /// claimed job to `run`.
    pub fn runner(&self, run: impl Fn(CurrentJob) + Send + Sync + 'static) -> JobRunnerOptions {
        match &self.driver {
            Driver::Sqlx(pool) => JobRunnerOptions::new(pool, run),
            Driver::TokioPostgres { backend, .. } => JobRunnerOptions::new(backend, run),
        }
    }
}

/// Runs one benchmark job: records its start, sleeps `duration` if given,
/// completes it, records the completion.
async fn run_job(mut job: CurrentJob, recorder: Arc<Recorder>, duration: Option<Duration>) {
    let payload: Payload = match job.json() {
        Ok(Some(payload)) => payload,
        other => {
            recorder.error(format!("job {}: bad payload: {other:?}", job.id()));
            return;
        }
    };
    recorder.started(&payload);
    if let Some(duration) = duration {
        tokio::time::sleep(duration).await;
    }
    recorder.body_done(&payload);
    match job.complete().await {
        Ok(()) => recorder.completed(&payload),
        Err(error) => recorder.error(format!(
            "job {}: complete failed: {}",
            payload.n,
            mq::error_text(&error)
        )),
    }
}

/// Hands the runner's claim latencies to a [`ClaimTimes`]: mq times each
/// claim itself (from asking the backend to the jobs coming back, a wait
/// for a pooled connection included) and reports it through its metrics
/// hook, so the benchmark measures what mq's own metrics would export.
struct ClaimMetrics(Arc<ClaimTimes>);

impl mq::report::RunnerMetrics for ClaimMetrics {
    fn jobs_claimed(&self, _jobs: usize, latency: Duration) {
        self.0.record(latency);
    }
}

struct MqRunner(JobRunnerHandle);

#[async_trait]
impl RunnerHandle for MqRunner {
    async fn stop(mut self: Box<Self>) -> Result<()> {
        self.0.stop().await;
        self.0.wait_jobs_finish(Duration::from_secs(30)).await;
        Ok(())
    }
}

#[async_trait]
impl System for MqSystem {
    fn kind(&self) -> SystemKind {
        self.kind
    }

    /// Also removes the channel limits and the claims they count (no
    /// other scenario sets one, and one left behind would limit the next
    /// repetition's runners).
    async fn reset(&self) -> Result<()> {
        sqlx::raw_sql("TRUNCATE mq_jobs, mq_channel_limits, mq_limit_claims")
            .execute(&self.admin)
            .await?;
        Ok(())
    }

    async fn spawn_one(&self, job: &Payload) -> Result<()> {
        let builder = Self::builder(job)?;
        match &self.driver {
            Driver::Sqlx(pool) => builder.spawn(pool).await?,
            Driver::TokioPostgres { pool, .. } => builder.spawn(pool).await?,
        };
        Ok(())
    }

    async fn spawn_batch(&self, jobs: &[Payload]) -> Result<()> {
        let builders = jobs.iter().map(Self::builder).collect::<Result<Vec<_>>>()?;
        self.spawn_builders(&builders).await
    }

    fn batch_api(&self) -> String {
        "mq::spawn_many (one statement per batch)".into()
    }

    async fn pending(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM mq_jobs")
            .fetch_one(&self.admin)
            .await?)
    }

    async fn start_runner(
        &self,
        options: RunnerOptions,
        recorder: Arc<Recorder>,
    ) -> Result<Box<dyn RunnerHandle>> {
        let duration = options.job_duration;
        let run = move |job: CurrentJob| {
            tokio::spawn(run_job(job, recorder.clone(), duration));
        };
        let mut runner = self.runner(run);
        if options.profile == Profile::Tuned {
            runner.set_concurrency(TUNED_CONCURRENCY.0, TUNED_CONCURRENCY.1);
        }
        if let Some(claim_times) = options.claim_times {
            runner.set_metrics(Arc::new(ClaimMetrics(claim_times)));
        }
        Ok(Box::new(MqRunner(runner.run().await?)))
    }

    fn describe(&self, profile: Profile) -> String {
        match profile {
            Profile::Default => "JobRunnerOptions defaults (concurrency 64..128)".into(),
            Profile::Tuned => format!(
                "set_concurrency({}, {})",
                TUNED_CONCURRENCY.0, TUNED_CONCURRENCY.1
            ),
        }
    }

    fn tables(&self) -> &'static [&'static str] {
        &["mq_jobs"]
    }

    fn admin_pool(&self) -> &sqlx::PgPool {
        &self.admin
    }

    fn as_mq(&self) -> Option<&MqSystem> {
        Some(self)
    }
}
