//! Limited claims while a long transaction holds the xmin horizon back.
//!
//! Vacuum then removes nothing, and every job claimed and gone leaves dead
//! entries at the front of its channel's ready jobs and among its limit's
//! running jobs. A limited claim from the front of the channel walks the
//! first, and one that counts the running jobs walks the second: each
//! claim grows with every job that ran since the horizon was held (a drain
//! limited to 1,000 at once fell from 20,000 jobs a second to 3,300). A
//! limited claim from the places its runner knows, within the bound its
//! limit keeps on the running jobs, reads neither.

use deadpool_postgres::{Manager, Pool};
use mq_test_db::TestDb;
// Its executor impls, which `migrate` uses.
use mq_tokio_postgres as _;
use tokio_postgres::NoTls;

const JOBS: i64 = 20_000;
/// The jobs that ran and went while the horizon was held.
const GONE: i64 = 15_000;
const TYPES: &str = "bigint, bigint, text, text, timestamptz, text[], bigint[], bigint[]";

/// The index entries of `mq_jobs` that `statement` read, dead or alive, in
/// a transaction committed or rolled back after it.
async fn entries_read(client: &tokio_postgres::Client, statement: &str, commit: bool) -> i64 {
    let read = "SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid))::bigint
                FROM pg_index
                WHERE indrelid = 'mq_jobs'::regclass";
    client.batch_execute("BEGIN").await.expect("begin");
    let before: i64 = client.query_one(read, &[]).await.expect("read").get(0);
    client.batch_execute(statement).await.expect("claim");
    let after: i64 = client.query_one(read, &[]).await.expect("read").get(0);
    let end = if commit { "COMMIT" } else { "ROLLBACK" };
    client.batch_execute(end).await.expect("end");
    after - before
}

/// A limited claim of 100 jobs, from the front or from `from` on.
fn claim(from: Option<i64>) -> String {
    let targets = match from {
        None => "'{}', '{}', '{}'".to_owned(),
        Some(from) => format!("'{{\"\"}}', '{{{from}}}', '{{{}}}'", i64::MAX),
    };
    format!("EXECUTE limited(100, 30000000, 'limited', '', NULL, {targets})")
}

#[tokio::test]
async fn limited_claims_from_their_places_read_past_the_dead() {
    let db = TestDb::create();
    let config: tokio_postgres::Config = db.url().parse().expect("a valid database URL");
    let pool = Pool::builder(Manager::new(config, NoTls))
        .max_size(2)
        .build()
        .expect("build the pool");
    mq_core::migrate(&pool).await.expect("migrate");
    let client = pool.get().await.expect("a connection");
    let holder = pool.get().await.expect("a second connection");
    client
        .batch_execute(&format!(
            "INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                                  retries, retry_backoff)
             SELECT gen_random_uuid(), 'ready', 'j', 'limited', '', false, now(), 3, '1s'
             FROM generate_series(1, {JOBS});
             INSERT INTO mq_channel_limits (channel_name, per_args, concurrency)
             VALUES ('limited', false, 1000);
             ANALYZE mq_jobs;"
        ))
        .await
        .expect("fill the queue");
    holder
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM mq_jobs")
        .await
        .expect("hold the horizon");
    // Jobs claimed under the limit, run and gone, as vacuum cannot see.
    client
        .batch_execute(&format!(
            "UPDATE mq_jobs SET state = 'running', limit_slot = true
             WHERE id IN (SELECT id FROM mq_jobs ORDER BY ready_seq LIMIT {GONE});
             DELETE FROM mq_jobs WHERE state = 'running';"
        ))
        .await
        .expect("run the first jobs");
    let place: i64 = client
        .query_one(
            "SELECT min(ready_seq) FROM mq_jobs WHERE state = 'ready'",
            &[],
        )
        .await
        .expect("the first place")
        .get(0);
    client
        .batch_execute(&format!(
            "PREPARE limited({TYPES}) AS {}",
            mq_sql::job_claim_limited(100)
        ))
        .await
        .expect("prepare");

    // The first claim from the place counts the running jobs (the limit
    // keeps no bound yet), walking the dead among them, and sets the bound.
    let counting = entries_read(&client, &claim(Some(place)), true).await;
    let past: i64 = client
        .query_one(
            "SELECT max(ready_seq) + 1 FROM mq_jobs WHERE state = 'running'",
            &[],
        )
        .await
        .expect("the next place")
        .get(0);
    let from_place = entries_read(&client, &claim(Some(past)), false).await;
    let from_front = entries_read(&client, &claim(None), false).await;
    assert!(
        from_place < GONE / 10,
        "a claim from its place within the bound read {from_place} index entries \
         (from the front: {from_front}, counting: {counting})"
    );
    assert!(
        from_front > GONE && counting > GONE / 2,
        "the dead entries were not there to walk: from the front {from_front} entries, \
         counting {counting}, from the place {from_place}"
    );
    holder.batch_execute("ROLLBACK").await.expect("release");
}
