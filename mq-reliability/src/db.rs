//! A scenario's database, and what the harness reads back from it: which
//! jobs ran, how often, when, and what they left behind.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use mq::Uuid;
use mq_test_db::TestDb;
use sqlx::PgPool;

use crate::fleet::Kill;

/// What the jobs write, besides completing themselves.
const TRACKING_TABLES: &str = "
CREATE TABLE rel_started (
    job_id      uuid NOT NULL,
    incarnation int NOT NULL,
    attempt     int NOT NULL,
    latency_us  bigint NOT NULL,
    lease_until timestamptz,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ON rel_started (job_id);
CREATE INDEX ON rel_started (at);
CREATE TABLE rel_effects (
    job_id       uuid NOT NULL,
    channel_args text NOT NULL,
    seq          bigint NOT NULL,
    incarnation  int NOT NULL,
    at           timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ON rel_effects (job_id);
";

/// A fresh database, migrated, with the tracking tables; dropped with it.
pub struct ScenarioDb {
    /// The harness's own pool on it.
    pub pool: PgPool,
    db: TestDb,
}

impl ScenarioDb {
    /// Creates a database and applies mq's migrations (unless `migrate` is
    /// false) and the tracking tables.
    pub async fn create(migrate: bool) -> Result<Self> {
        let db = tokio::task::spawn_blocking(TestDb::create).await?;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(60))
            .connect(db.url())
            .await
            .context("connecting to the scenario database")?;
        if migrate {
            mq::migrate(&pool).await.context("migrating")?;
            sqlx::raw_sql(TRACKING_TABLES).execute(&pool).await?;
        }
        Ok(Self { pool, db })
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        self.db.url()
    }

    /// Waits until every job of `ids` has its side effect, polling; returns
    /// how long that took, or `None` if `timeout` passed first.
    pub async fn wait_for(&self, ids: &[Uuid], timeout: Duration) -> Result<Option<Duration>> {
        let started = Instant::now();
        loop {
            if self.done_count(ids).await? >= ids.len() as i64 {
                return Ok(Some(started.elapsed()));
            }
            if started.elapsed() > timeout {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// How many of `ids` have their side effect.
    pub async fn done_count(&self, ids: &[Uuid]) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(DISTINCT job_id) FROM rel_effects WHERE job_id = ANY($1)",
        )
        .bind(ids)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Waits until job `id` has started, polling; returns its spawn-to-start
    /// latency, or `None` if `timeout` passed first.
    pub async fn wait_started(&self, id: Uuid, timeout: Duration) -> Result<Option<Duration>> {
        let started = Instant::now();
        loop {
            let latency: Option<i64> =
                sqlx::query_scalar("SELECT min(latency_us) FROM rel_started WHERE job_id = $1")
                    .bind(id)
                    .fetch_one(&self.pool)
                    .await?;
            if let Some(us) = latency {
                return Ok(Some(Duration::from_micros(us.max(0) as u64)));
            }
            if started.elapsed() > timeout {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Checks every spawned job against what ran.
    pub async fn audit(&self, acknowledged: &[Uuid]) -> Result<Audit> {
        let effects: Vec<(Uuid, i64)> =
            sqlx::query_as("SELECT job_id, count(*) FROM rel_effects GROUP BY job_id")
                .fetch_all(&self.pool)
                .await?;
        let effects: HashMap<Uuid, i64> = effects.into_iter().collect();
        let acknowledged_set: HashSet<Uuid> = acknowledged.iter().copied().collect();
        let lost = acknowledged
            .iter()
            .filter(|id| !effects.contains_key(id))
            .count();
        let duplicated = effects.values().filter(|&&n| n > 1).count();
        let unacknowledged_completed = effects
            .keys()
            .filter(|id| !acknowledged_set.contains(id))
            .count();
        let reruns: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM rel_started s JOIN rel_effects e USING (job_id) WHERE s.at > e.at",
        )
        .fetch_one(&self.pool)
        .await?;
        let attempts: i64 = sqlx::query_scalar("SELECT count(*) FROM rel_started")
            .fetch_one(&self.pool)
            .await?;
        let left_in_queue: i64 = sqlx::query_scalar("SELECT count(*) FROM mq_jobs")
            .fetch_one(&self.pool)
            .await?;
        Ok(Audit {
            acknowledged: acknowledged.len(),
            completed: effects.len(),
            lost,
            duplicated,
            unacknowledged_completed,
            reruns,
            attempts,
            left_in_queue,
        })
    }

    /// For every attempt that a kill interrupted: whether, and when, the
    /// job started again.
    pub async fn interrupted(&self, kills: &[Kill]) -> Result<Vec<Interrupted>> {
        let incarnations: Vec<i32> = kills.iter().map(|k| k.incarnation).collect();
        let times: Vec<f64> = kills.iter().map(|k| k.at).collect();
        let rows: Vec<(Uuid, Option<f64>, Option<f64>)> = sqlx::query_as(
            "WITH killed AS (
                 SELECT * FROM unnest($1::int[], $2::float8[]) AS k(incarnation, killed_at)
             ),
             cut AS (
                 SELECT s.job_id, s.at, s.lease_until, to_timestamp(k.killed_at) AS killed_at
                 FROM rel_started s JOIN killed k USING (incarnation)
                 WHERE NOT EXISTS (SELECT 1 FROM rel_effects e
                                   WHERE e.job_id = s.job_id AND e.incarnation = s.incarnation)
             ),
             next AS (
                 SELECT c.*, (SELECT min(n.at) FROM rel_started n
                              WHERE n.job_id = c.job_id AND n.at > c.at) AS next_start
                 FROM cut c
             )
             SELECT job_id,
                    extract(epoch FROM next_start - lease_until)::float8,
                    extract(epoch FROM next_start - killed_at)::float8
             FROM next",
        )
        .bind(&incarnations)
        .bind(&times)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(_, after_lease, after_kill)| Interrupted {
                restarted_after_lease: after_lease,
                restarted_after_kill: after_kill,
            })
            .collect())
    }

    /// The ordered channels' violations: a job that started before the one
    /// before it on its channel had committed its completion.
    pub async fn order_violations(&self) -> Result<(i64, i64)> {
        let (pairs, violations): (i64, i64) = sqlx::query_as(
            "WITH first_start AS (
                 SELECT e.channel_args, e.seq, min(s.at) AS started_at
                 FROM rel_effects e JOIN rel_started s USING (job_id)
                 GROUP BY e.channel_args, e.seq
             )
             SELECT count(*), count(*) FILTER (WHERE f.started_at <= d.at)
             FROM first_start f
             JOIN rel_effects d ON d.channel_args = f.channel_args AND d.seq = f.seq - 1",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((pairs, violations))
    }

    /// How many LISTEN connections are open on this database.
    pub async fn listeners(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Waits until `count` LISTEN connections are open; returns how long
    /// that took, or `None` after `timeout`.
    pub async fn wait_listeners(&self, count: i64, timeout: Duration) -> Result<Option<Duration>> {
        let started = Instant::now();
        loop {
            if self.listeners().await.unwrap_or(0) >= count {
                return Ok(Some(started.elapsed()));
            }
            if started.elapsed() > timeout {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// An attempt cut short by a kill.
#[derive(Debug, Clone, Copy)]
pub struct Interrupted {
    /// Seconds from the lease the attempt held when it started to the
    /// job's next start (negative: it started again too early).
    pub restarted_after_lease: Option<f64>,
    /// Seconds from the kill to the job's next start.
    pub restarted_after_kill: Option<f64>,
}

/// Every spawned job against what ran.
#[derive(Debug, Clone, Copy)]
pub struct Audit {
    /// Jobs whose spawn call returned their id.
    pub acknowledged: usize,
    /// Jobs with a side effect.
    pub completed: usize,
    /// Acknowledged jobs without one.
    pub lost: usize,
    /// Jobs with more than one.
    pub duplicated: usize,
    /// Jobs that ran although their spawn call returned an error (the
    /// server committed it before the connection failed).
    pub unacknowledged_completed: usize,
    /// Attempts started after the job's completion had been written.
    pub reruns: i64,
    /// Attempts started in all.
    pub attempts: i64,
    /// Rows still in `mq_jobs`.
    pub left_in_queue: i64,
}

impl std::ops::Add for Audit {
    type Output = Audit;

    /// The totals of two scenarios' audits.
    fn add(self, other: Audit) -> Audit {
        Audit {
            acknowledged: self.acknowledged + other.acknowledged,
            completed: self.completed + other.completed,
            lost: self.lost + other.lost,
            duplicated: self.duplicated + other.duplicated,
            unacknowledged_completed: self.unacknowledged_completed
                + other.unacknowledged_completed,
            reruns: self.reruns + other.reruns,
            attempts: self.attempts + other.attempts,
            left_in_queue: self.left_in_queue + other.left_in_queue,
        }
    }
}

impl Audit {
    /// Whether nothing was lost, duplicated or run again.
    pub fn is_clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.reruns == 0 && self.left_in_queue == 0
    }
}
