//! riverqueue 0.5, River's Rust client, set up as its README shows: a
//! `PgPool`, `PostgresMigrator::migrate_up`, a `Client` with `Workers` and
//! one queue.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use async_trait::async_trait;
use riverqueue::migrate::PostgresMigrator;
use riverqueue::{
    BoxError, Client, EventKind, EventRecvError, InsertOpts, Job, JobArgs, QueueConfig, RunHandle,
    SubscribeConfig, WorkContext, WorkOutcome, Workers,
};
use serde::{Deserialize, Serialize};

use super::{Config, Profile, RunnerHandle, RunnerOptions, System, SystemKind};
use crate::recorder::{Payload, Recorder};

/// Workers of the default queue: River requires a number and has no
/// default; 100 is what River's documentation uses for a default queue.
const DEFAULT_WORKERS: usize = 100;
/// The tuned queue's workers and the tuned client's fetch cooldown.
const TUNED_WORKERS: usize = 1000;
const TUNED_FETCH_COOLDOWN: Duration = Duration::from_millis(5);

/// The benchmark payload as River job arguments.
#[derive(Clone, Debug, Serialize, Deserialize, JobArgs)]
#[river(kind = "bench")]
struct BenchArgs {
    #[serde(flatten)]
    payload: Payload,
}

/// River's queue for a job: `default`, or one queue per ordered channel
/// (River has no ordered channels; one worker per queue comes closest).
fn queue_of(payload: &Payload) -> Option<String> {
    payload.ord.map(|(channel, _)| format!("ch_{channel}"))
}

/// River on its own database.
pub struct RiverSystem {
    pool: riverqueue::sqlx::PgPool,
    /// An insert-only client (no queues) for spawning.
    inserter: Client,
}

/// Applies River's migrations to the database at `url`.
pub async fn migrate(url: &str) -> Result<()> {
    let pool = crate::db::pool(url, 1).await?;
    PostgresMigrator::new(pool.clone())
        .migrate_up()
        .await
        .context("River migrate_up")?;
    pool.close().await;
    Ok(())
}

impl RiverSystem {
    /// Connects to River's database at `url`.
    pub async fn connect(url: &str, config: &Config) -> Result<Self> {
        let pool = crate::db::system_pool(url, config.pool_size, config.pool_ping).await?;
        let inserter = Client::builder(pool.clone()).build()?;
        Ok(RiverSystem { pool, inserter })
    }

    fn args(job: &Payload) -> (BenchArgs, InsertOpts) {
        let mut opts = InsertOpts::default();
        if let Some(queue) = queue_of(job) {
            opts = opts.with_queue(queue);
        }
        (BenchArgs { payload: *job }, opts)
    }
}

struct RiverRunner {
    run: RunHandle,
    events: tokio::task::JoinHandle<()>,
}

#[async_trait]
impl RunnerHandle for RiverRunner {
    async fn stop(mut self: Box<Self>) -> Result<()> {
        self.run.stop().await?;
        self.events.abort();
        Ok(())
    }
}

#[async_trait]
impl System for RiverSystem {
    fn kind(&self) -> SystemKind {
        SystemKind::River
    }

    async fn reset(&self) -> Result<()> {
        sqlx::raw_sql("TRUNCATE river_job")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn spawn_one(&self, job: &Payload) -> Result<()> {
        let (args, opts) = Self::args(job);
        self.inserter.insert(args).opts(opts).await?;
        Ok(())
    }

    async fn spawn_batch(&self, jobs: &[Payload]) -> Result<()> {
        self.inserter
            .insert_many(jobs.iter().map(Self::args))
            .await?;
        Ok(())
    }

    fn batch_api(&self) -> String {
        "Client::insert_many".into()
    }

    async fn pending(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'cancelled', 'discarded')",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    async fn start_runner(
        &self,
        options: RunnerOptions,
        recorder: Arc<Recorder>,
    ) -> Result<Box<dyn RunnerHandle>> {
        let mut workers = Workers::new();
        let on_start = recorder.clone();
        workers.add_fn(move |_context: WorkContext, job: Job<BenchArgs>| {
            let recorder = on_start.clone();
            async move {
                recorder.started(&job.args.payload);
                recorder.body_done(&job.args.payload);
                Ok::<_, BoxError>(WorkOutcome::Complete)
            }
        })?;
        let mut builder = Client::builder(self.pool.clone()).workers(workers);
        match options.ordered_channels {
            Some(channels) => {
                for channel in 0..channels {
                    builder = builder.queue(format!("ch_{channel}"), QueueConfig::new(1));
                }
            }
            None => {
                let workers = match options.profile {
                    Profile::Default => DEFAULT_WORKERS,
                    Profile::Tuned => TUNED_WORKERS,
                };
                builder = builder.queue("default", QueueConfig::new(workers));
            }
        }
        if options.profile == Profile::Tuned {
            builder = builder.fetch_cooldown(TUNED_FETCH_COOLDOWN);
        }
        let client = builder.build()?;
        // Completion is counted when River reports it persisted (its
        // completer writes results in batches after the worker returns).
        let mut events = client.subscribe_config(
            SubscribeConfig::new([EventKind::JobCompleted])?
                .with_buffer_capacity(NonZeroUsize::new(1 << 16).unwrap()),
        )?;
        let events = tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) => {
                        if let Some(job) = event.as_job() {
                            match job.job.decode_args::<BenchArgs>() {
                                Ok(args) => recorder.completed(&args.payload),
                                Err(error) => recorder.error(format!("bad River args: {error}")),
                            }
                        }
                    }
                    Err(EventRecvError::Lagged(n)) => {
                        recorder.error(format!("River's event receiver dropped {n} events"))
                    }
                    Err(_) => break,
                }
            }
        });
        let mut run = client.start()?;
        run.wait_ready().await?;
        Ok(Box::new(RiverRunner { run, events }))
    }

    fn describe(&self, profile: Profile) -> String {
        match profile {
            Profile::Default => format!(
                "QueueConfig::new({DEFAULT_WORKERS}), client defaults (fetch cooldown 100 ms)"
            ),
            Profile::Tuned => format!(
                "QueueConfig::new({TUNED_WORKERS}), fetch_cooldown({} ms)",
                TUNED_FETCH_COOLDOWN.as_millis()
            ),
        }
    }

    fn tables(&self) -> &'static [&'static str] {
        &["river_job"]
    }

    fn admin_pool(&self) -> &sqlx::PgPool {
        &self.pool
    }
}
