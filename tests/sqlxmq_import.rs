//! The import of sqlxmq's pending jobs (scripts/import-from-sqlxmq.sql),
//! against tables shaped like sqlxmq 0.6's.

use std::time::Duration;

use mq::{BackendExt, JobRunnerOptions, JobState, SqlxBackend, Uuid};
use mq_test_db::TestDb;
use sqlx::PgPool;

const SQLXMQ_TABLES: &str = "
CREATE TABLE mq_msgs (
    id UUID PRIMARY KEY,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    attempt_at TIMESTAMPTZ DEFAULT NOW(),
    attempts INT NOT NULL DEFAULT 5,
    retry_backoff INTERVAL NOT NULL DEFAULT INTERVAL '1 second',
    channel_name TEXT NOT NULL,
    channel_args TEXT NOT NULL,
    commit_interval INTERVAL,
    after_message_id UUID DEFAULT '00000000-0000-0000-0000-000000000000' REFERENCES mq_msgs(id) ON DELETE SET DEFAULT
);
INSERT INTO mq_msgs (id, channel_name, channel_args, after_message_id)
VALUES ('00000000-0000-0000-0000-000000000000', '', '', NULL);
CREATE TABLE mq_payloads (id UUID PRIMARY KEY, name TEXT NOT NULL, payload_json JSONB, payload_bytes BYTEA);
";

async fn message(pool: &PgPool, sql: &'static str) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(sql).bind(id).execute(pool).await.unwrap();
    sqlx::query("INSERT INTO mq_payloads (id, name, payload_json, payload_bytes) VALUES ($1, 'imported', '{\"a\": 1}', '\\x0102')")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn pending_sqlxmq_jobs_are_imported_and_run() {
    let db = TestDb::create();
    let pool = PgPool::connect(db.url()).await.unwrap();
    sqlx::raw_sql(SQLXMQ_TABLES).execute(&pool).await.unwrap();
    mq::migrate(&pool).await.unwrap();

    // Unordered and ready; ordered chain of two; delayed; uncommitted; failed.
    let ready = message(&pool, "INSERT INTO mq_msgs (id, channel_name, channel_args, attempts, after_message_id) VALUES ($1, 'c', '', 3, NULL)").await;
    let first = message(&pool, "INSERT INTO mq_msgs (id, channel_name, channel_args, created_at) VALUES ($1, 'o', 'x', now() - interval '2 s')").await;
    let second = message(
        &pool,
        "INSERT INTO mq_msgs (id, channel_name, channel_args, created_at, after_message_id) \
         SELECT $1, 'o', 'x', now() - interval '1 s', id FROM mq_msgs WHERE channel_name = 'o'",
    )
    .await;
    let delayed = message(&pool, "INSERT INTO mq_msgs (id, channel_name, channel_args, attempt_at, after_message_id) VALUES ($1, 'c', '', now() + interval '1 hour', NULL)").await;
    let uncommitted = message(&pool, "INSERT INTO mq_msgs (id, channel_name, channel_args, attempt_at, commit_interval, after_message_id) VALUES ($1, 'c', '', now() + interval '1 hour', interval '1 hour', NULL)").await;
    let failed = message(&pool, "INSERT INTO mq_msgs (id, channel_name, channel_args, attempt_at, attempts, after_message_id) VALUES ($1, 'c', '', NULL, 1, NULL)").await;

    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/import-from-sqlxmq.sql"
    ))
    .unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(script))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let backend = SqlxBackend::new(pool.clone());
    assert_eq!(
        backend.job_state(ready).await.unwrap(),
        Some(JobState::Ready)
    );
    assert_eq!(
        backend.job_state(delayed).await.unwrap(),
        Some(JobState::Scheduled)
    );
    assert_eq!(
        backend.job_state(uncommitted).await.unwrap(),
        Some(JobState::Uncommitted)
    );
    assert_eq!(
        backend.job_state(failed).await.unwrap(),
        Some(JobState::Failed)
    );
    // The ordered chain: the first is ready, the second waits behind it.
    assert_eq!(
        backend.job_state(first).await.unwrap(),
        Some(JobState::Ready)
    );
    assert_eq!(
        backend.job_state(second).await.unwrap(),
        Some(JobState::Blocked)
    );
    let failed_job = mq::admin::get(&pool, failed).await.unwrap().unwrap();
    assert_eq!(
        failed_job.last_error().map(|e| e.error.as_str()),
        Some("imported from sqlxmq with no attempts left")
    );

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let _runner = JobRunnerOptions::new(&pool, move |mut job| {
        let tx = tx.clone();
        tokio::spawn(async move {
            let payload: serde_json::Value = job.json().unwrap().unwrap();
            assert_eq!(payload, serde_json::json!({"a": 1}));
            assert_eq!(job.raw_bytes(), Some(&[1u8, 2][..]));
            tx.send(job.id()).unwrap();
            job.complete().await.unwrap();
        });
    })
    .run()
    .await
    .unwrap();
    let mut ran = Vec::new();
    while ran.len() < 3 {
        let id = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .unwrap()
            .unwrap();
        ran.push(id);
    }
    assert!(ran.contains(&ready));
    let position = |id| ran.iter().position(|r| *r == id).unwrap();
    assert!(
        position(first) < position(second),
        "the ordered chain lost its order"
    );
    mq::commit(&pool, &[uncommitted]).await.unwrap();
    // It had no delay of its own: committed, it is ready (or already taken).
    assert_ne!(
        backend.job_state(uncommitted).await.unwrap(),
        Some(JobState::Uncommitted)
    );
}
