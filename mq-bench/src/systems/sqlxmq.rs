//! sqlxmq 0.6 from crates.io (on sqlx 0.8), with the migrations it ships.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use sqlx08::postgres::PgPoolOptions;

use super::{Config, Profile, RunnerHandle, RunnerOptions, System, SystemKind};
use crate::recorder::{Payload, Recorder};

/// The tuned runner's concurrency (min, max).
const TUNED_CONCURRENCY: (usize, usize) = (128, 512);

/// sqlxmq on its own database.
pub struct SqlxmqSystem {
    pool: sqlx08::PgPool,
    admin: sqlx::PgPool,
}

/// The `migrations/` folder of the sqlxmq 0.6 package this benchmark is
/// built with: `$SQLXMQ_MIGRATIONS` if set, else found through
/// `cargo metadata` (the package's `manifest_path`), so that the files are
/// read from cargo's own copy of the crate, never copied into this repo.
pub fn migrations_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SQLXMQ_MIGRATIONS") {
        return Ok(dir.into());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--manifest-path",
            manifest,
        ])
        .output()
        .context("running cargo metadata to find sqlxmq's migrations (or set SQLXMQ_MIGRATIONS)")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let packages = metadata["packages"].as_array().context("no packages")?;
    for package in packages {
        let version = package["version"].as_str().unwrap_or_default();
        if package["name"] == "sqlxmq" && version.starts_with("0.6.") {
            let manifest = package["manifest_path"]
                .as_str()
                .context("no manifest_path")?;
            let dir = PathBuf::from(manifest)
                .parent()
                .context("manifest_path has no parent")?
                .join("migrations");
            return Ok(dir);
        }
    }
    bail!("sqlxmq 0.6 is not in cargo metadata's packages")
}

/// Applies sqlxmq's `*.up.sql` migrations, in name order, to the database
/// at `url` (the first creates the `uuid-ossp` extension it needs).
pub async fn migrate(url: &str) -> Result<()> {
    let dir = migrations_dir()?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.to_string_lossy().ends_with(".up.sql"));
    files.sort();
    if files.is_empty() {
        bail!("no *.up.sql in {}", dir.display());
    }
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
    for file in files {
        let sql = std::fs::read_to_string(&file)?;
        sqlx08::raw_sql(&sql)
            .execute(&pool)
            .await
            .with_context(|| format!("applying {}", file.display()))?;
    }
    pool.close().await;
    Ok(())
}

impl SqlxmqSystem {
    /// Connects to sqlxmq's database at `url`.
    pub async fn connect(url: &str, config: &Config) -> Result<Self> {
        Ok(SqlxmqSystem {
            pool: PgPoolOptions::new()
                .max_connections(config.pool_size)
                .test_before_acquire(config.pool_ping)
                .connect(url)
                .await?,
            admin: crate::db::pool(url, 2).await?,
        })
    }
}

async fn run_job(mut job: sqlxmq::CurrentJob, recorder: Arc<Recorder>) {
    let payload: Payload = match job.json() {
        Ok(Some(payload)) => payload,
        other => {
            recorder.error(format!("job {}: bad payload: {other:?}", job.id()));
            return;
        }
    };
    recorder.started(&payload);
    recorder.body_done(&payload);
    match job.complete().await {
        Ok(()) => recorder.completed(&payload),
        Err(error) => recorder.error(format!("job {}: complete failed: {error}", payload.n)),
    }
}

struct SqlxmqRunner(sqlxmq::JobRunnerHandle);

#[async_trait]
impl RunnerHandle for SqlxmqRunner {
    async fn stop(mut self: Box<Self>) -> Result<()> {
        self.0.stop().await;
        self.0.wait_jobs_finish(Duration::from_secs(30)).await;
        Ok(())
    }
}

#[async_trait]
impl System for SqlxmqSystem {
    fn kind(&self) -> SystemKind {
        SystemKind::Sqlxmq
    }

    async fn reset(&self) -> Result<()> {
        // Not `sqlxmq::clear_all`: it deletes row by row, and each delete
        // resets the rows whose `after_message_id` points at it through an
        // unindexed foreign key, which takes hours for a 1,000,000-job
        // backlog. Truncate instead, and put back the nil-id sentinel row
        // sqlxmq's first migration inserts.
        sqlx::raw_sql(
            "TRUNCATE mq_msgs, mq_payloads;
             INSERT INTO mq_msgs (id, channel_name, channel_args, after_message_id)
             VALUES (uuid_nil(), '', '', NULL)",
        )
        .execute(&self.admin)
        .await?;
        Ok(())
    }

    async fn spawn_one(&self, job: &Payload) -> Result<()> {
        let channel_args = job.ord.map(|(c, _)| c.to_string());
        let mut builder = sqlxmq::JobBuilder::new("bench");
        builder.set_json(job)?;
        if let Some(args) = &channel_args {
            builder
                .set_channel_name("ordered")
                .set_channel_args(args)
                .set_ordered(true);
        }
        builder.spawn(&self.pool).await?;
        Ok(())
    }

    async fn spawn_batch(&self, jobs: &[Payload]) -> Result<()> {
        // sqlxmq has no batch API: one transaction, one spawn (one round
        // trip) per job, one commit.
        let mut tx = self.pool.begin().await?;
        for job in jobs {
            let channel_args = job.ord.map(|(c, _)| c.to_string());
            let mut builder = sqlxmq::JobBuilder::new("bench");
            builder.set_json(job)?;
            if let Some(args) = &channel_args {
                builder
                    .set_channel_name("ordered")
                    .set_channel_args(args)
                    .set_ordered(true);
            }
            builder.spawn(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    fn batch_api(&self) -> String {
        "no batch API: JobBuilder::spawn per job inside one transaction per batch".into()
    }

    async fn preload(&self, jobs: &[Payload]) -> Result<()> {
        if jobs.iter().any(|j| j.ord.is_some()) {
            return self.spawn_batch(jobs).await;
        }
        // The SQL function sqlxmq's own spawn calls with a one-element
        // array, called with the whole batch: not timed, only fills the queue.
        let payloads: Vec<String> = jobs
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<_, _>>()?;
        sqlx08::query(
            "SELECT mq_insert(ARRAY(
                SELECT ROW(uuid_generate_v4(), interval '0', 4, interval '1 second', '', '',
                           NULL::interval, false, 'bench', p, NULL::bytea)::mq_new_t
                FROM unnest($1::text[]) AS t(p)))",
        )
        .bind(payloads)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn pending(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM mq_msgs WHERE id <> uuid_nil()")
                .fetch_one(&self.admin)
                .await?,
        )
    }

    async fn start_runner(
        &self,
        options: RunnerOptions,
        recorder: Arc<Recorder>,
    ) -> Result<Box<dyn RunnerHandle>> {
        let mut runner = sqlxmq::JobRunnerOptions::new(&self.pool, move |job| {
            tokio::spawn(run_job(job, recorder.clone()));
        });
        if options.profile == Profile::Tuned {
            runner.set_concurrency(TUNED_CONCURRENCY.0, TUNED_CONCURRENCY.1);
        }
        Ok(Box::new(SqlxmqRunner(runner.run().await?)))
    }

    fn describe(&self, profile: Profile) -> String {
        match profile {
            Profile::Default => "JobRunnerOptions defaults (concurrency 16..32)".into(),
            Profile::Tuned => format!(
                "set_concurrency({}, {})",
                TUNED_CONCURRENCY.0, TUNED_CONCURRENCY.1
            ),
        }
    }

    fn tables(&self) -> &'static [&'static str] {
        &["mq_msgs", "mq_payloads"]
    }

    fn admin_pool(&self) -> &sqlx::PgPool {
        &self.admin
    }
}
