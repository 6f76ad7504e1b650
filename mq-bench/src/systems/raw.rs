//! The raw-SQL floor: the bare statements a queue needs per job, with no
//! queue library, on a minimal table. A batched insert; a claim of a batch
//! with `FOR UPDATE SKIP LOCKED` that marks the rows as taken (so that the
//! job runs outside the claiming transaction, as in a real queue); a
//! batched delete once the batch has run. Everything else a queue does
//! (retries, leases renewed, notifications, fairness) is left out, so this
//! is what the machine can do at best at that batch size.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use async_trait::async_trait;
use sqlx::Row;

use super::{Config, Profile, RunnerHandle, RunnerOptions, System, SystemKind};
use crate::recorder::{ClaimTimes, Payload, Recorder};

/// Claim loops of the tuned runner (the default runs one).
const TUNED_LOOPS: usize = 4;
/// How long an idle claim loop sleeps before it polls again.
const IDLE_POLL: Duration = Duration::from_millis(1);

const CREATE: &str = "
CREATE TABLE bench_raw_jobs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel      integer,
    locked_until timestamptz,
    payload      json NOT NULL
)";

const INSERT_ONE: &str = "INSERT INTO bench_raw_jobs (channel, payload) VALUES ($1, $2::json)";

const INSERT_MANY: &str = "
INSERT INTO bench_raw_jobs (channel, payload)
SELECT c, p::json FROM unnest($1::integer[], $2::text[]) AS t(c, p)";

/// Takes the oldest free jobs, skipping rows other claimers hold.
const CLAIM: &str = "
UPDATE bench_raw_jobs SET locked_until = now() + interval '30 seconds'
WHERE id IN (
    SELECT id FROM bench_raw_jobs
    WHERE locked_until IS NULL OR locked_until < now()
    ORDER BY id LIMIT $1
    FOR UPDATE SKIP LOCKED)
RETURNING id, payload::text";

/// Ordered channels: takes the head of each channel whose head is free (a
/// channel's next job becomes its head once the previous is deleted).
const CLAIM_ORDERED: &str = "
UPDATE bench_raw_jobs SET locked_until = now() + interval '30 seconds'
WHERE id IN (
    SELECT id FROM bench_raw_jobs
    WHERE id IN (SELECT min(id) FROM bench_raw_jobs GROUP BY channel)
      AND (locked_until IS NULL OR locked_until < now())
    ORDER BY id LIMIT $1
    FOR UPDATE SKIP LOCKED)
RETURNING id, payload::text";

const DELETE: &str = "DELETE FROM bench_raw_jobs WHERE id = ANY($1)";

/// Creates the floor's table in the database at `url`.
pub async fn migrate(url: &str) -> Result<()> {
    let pool = crate::db::pool(url, 1).await?;
    sqlx::raw_sql(CREATE).execute(&pool).await?;
    pool.close().await;
    Ok(())
}

/// The floor, on its own database.
pub struct RawSystem {
    pool: sqlx::PgPool,
    batch: usize,
}

impl RawSystem {
    /// Connects to the floor's database at `url`.
    pub async fn connect(url: &str, config: &Config) -> Result<Self> {
        Ok(RawSystem {
            pool: crate::db::system_pool(url, config.pool_size, config.pool_ping).await?,
            batch: config.raw_batch.max(1),
        })
    }
}

/// One claim loop: claim a batch, run it, delete it, until stopped. Each
/// claim statement's time (a pooled connection's wait included, as mq's
/// runner counts it) goes to `claim_times` if set.
async fn claim_loop(
    pool: sqlx::PgPool,
    batch: usize,
    ordered: bool,
    recorder: Arc<Recorder>,
    claim_times: Option<Arc<ClaimTimes>>,
    stop: Arc<AtomicBool>,
) {
    let claim = if ordered { CLAIM_ORDERED } else { CLAIM };
    while !stop.load(Ordering::Relaxed) {
        let began = Instant::now();
        let claimed = sqlx::query(claim).bind(batch as i64).fetch_all(&pool).await;
        if let Some(claim_times) = &claim_times {
            claim_times.record(began.elapsed());
        }
        let rows = match claimed {
            Ok(rows) => rows,
            Err(error) => {
                recorder.error(format!("raw claim: {error}"));
                return;
            }
        };
        if rows.is_empty() {
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut payloads = Vec::with_capacity(rows.len());
        for row in rows {
            ids.push(row.get::<i64, _>(0));
            let text: String = row.get(1);
            match serde_json::from_str::<Payload>(&text) {
                Ok(payload) => {
                    recorder.started(&payload);
                    recorder.body_done(&payload);
                    payloads.push(payload);
                }
                Err(error) => recorder.error(format!("raw payload {text}: {error}")),
            }
        }
        if let Err(error) = sqlx::query(DELETE).bind(&ids).execute(&pool).await {
            recorder.error(format!("raw delete: {error}"));
            return;
        }
        for payload in &payloads {
            recorder.completed(payload);
        }
    }
}

struct RawRunner {
    stop: Arc<AtomicBool>,
    loops: Vec<tokio::task::JoinHandle<()>>,
}

#[async_trait]
impl RunnerHandle for RawRunner {
    async fn stop(self: Box<Self>) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        for handle in self.loops {
            handle.await?;
        }
        Ok(())
    }
}

#[async_trait]
impl System for RawSystem {
    fn kind(&self) -> SystemKind {
        SystemKind::Raw
    }

    async fn reset(&self) -> Result<()> {
        sqlx::raw_sql("TRUNCATE bench_raw_jobs")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn spawn_one(&self, job: &Payload) -> Result<()> {
        sqlx::query(INSERT_ONE)
            .bind(job.ord.map(|(c, _)| c as i32))
            .bind(serde_json::to_string(job)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn spawn_batch(&self, jobs: &[Payload]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        for chunk in jobs.chunks(self.batch) {
            let channels: Vec<Option<i32>> =
                chunk.iter().map(|j| j.ord.map(|(c, _)| c as i32)).collect();
            let payloads: Vec<String> = chunk
                .iter()
                .map(serde_json::to_string)
                .collect::<Result<_, _>>()?;
            sqlx::query(INSERT_MANY)
                .bind(channels)
                .bind(payloads)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    fn batch_api(&self) -> String {
        format!(
            "INSERT ... SELECT FROM unnest(arrays), {} rows per statement, one transaction per batch",
            self.batch
        )
    }

    async fn pending(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM bench_raw_jobs")
            .fetch_one(&self.pool)
            .await?)
    }

    async fn start_runner(
        &self,
        options: RunnerOptions,
        recorder: Arc<Recorder>,
    ) -> Result<Box<dyn RunnerHandle>> {
        let loops = match options.profile {
            Profile::Default => 1,
            Profile::Tuned => TUNED_LOOPS,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let loops = (0..loops)
            .map(|_| {
                tokio::spawn(claim_loop(
                    self.pool.clone(),
                    self.batch,
                    options.ordered_channels.is_some(),
                    recorder.clone(),
                    options.claim_times.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        Ok(Box::new(RawRunner { stop, loops }))
    }

    fn describe(&self, profile: Profile) -> String {
        let loops = match profile {
            Profile::Default => 1,
            Profile::Tuned => TUNED_LOOPS,
        };
        format!(
            "{loops} claim loop(s), {} jobs per claim and per delete, idle poll {} ms",
            self.batch,
            IDLE_POLL.as_millis()
        )
    }

    fn tables(&self) -> &'static [&'static str] {
        &["bench_raw_jobs"]
    }

    fn admin_pool(&self) -> &sqlx::PgPool {
        &self.pool
    }
}
