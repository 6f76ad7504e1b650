//! The claim statements' plans over a large queue: their estimated cost
//! stays under the server's `jit_above_cost`, so that PostgreSQL never JIT
//! compiles a claim. Compiling costs hundreds of milliseconds, on every
//! execution whose plan is over the threshold; a limited claim whose
//! estimate counted a tenth of a channel's jobs took 360-480 ms a claim at
//! a million jobs.
//!
//! Only the plans are checked (the statements are not run): the ordinary
//! claims and the limited claim, over 300,000 ready jobs of one channel.

use deadpool_postgres::{Manager, Pool};
use mq_test_db::TestDb;
// Its executor impls, which `migrate` uses.
use mq_tokio_postgres as _;
use tokio_postgres::NoTls;

const JOBS: i64 = 300_000;

/// The estimated total cost of `statement` (a prepared-statement text with
/// parameters of `types`) run with `args`, as the server plans it.
async fn cost(client: &tokio_postgres::Client, types: &str, statement: &str, args: &str) -> f64 {
    client
        .batch_execute(&format!("PREPARE planned({types}) AS {statement}"))
        .await
        .expect("prepare");
    let cost: f64 = client
        .query_one(
            "SELECT plan_cost('EXECUTE planned(' || $1 || ')')",
            &[&args],
        )
        .await
        .expect("explain")
        .get(0);
    client
        .batch_execute("DEALLOCATE planned")
        .await
        .expect("deallocate");
    cost
}

#[tokio::test]
async fn claims_stay_under_the_jit_threshold_over_a_large_queue() {
    let db = TestDb::create();
    let config: tokio_postgres::Config = db.url().parse().expect("a valid database URL");
    let pool = Pool::builder(Manager::new(config, NoTls))
        .max_size(1)
        .build()
        .expect("build the pool");
    mq_core::migrate(&pool).await.expect("migrate");
    let client = pool.get().await.expect("a connection");
    client
        .batch_execute(&format!(
            "INSERT INTO mq_jobs (id, state, name, channel_name, channel_args, ordered, run_at,
                                  retries, retry_backoff)
             SELECT gen_random_uuid(), 'ready', 'j', 'big', '', false, now(), 3, '1s'
             FROM generate_series(1, {JOBS});
             INSERT INTO mq_channel_limits (channel_name, per_args, concurrency)
             VALUES ('limited', false, 1000);
             UPDATE mq_jobs SET channel_name = 'limited'
             WHERE id IN (SELECT id FROM mq_jobs LIMIT {JOBS} / 2);
             ANALYZE mq_jobs;
             CREATE FUNCTION plan_cost(query text) RETURNS float8 LANGUAGE plpgsql AS $$
             DECLARE
                 plan json;
             BEGIN
                 EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
                 RETURN (plan -> 0 -> 'Plan' ->> 'Total Cost')::float8;
             END
             $$;"
        ))
        .await
        .expect("fill the queue");
    let threshold: f64 = client
        .query_one("SELECT current_setting('jit_above_cost')::float8", &[])
        .await
        .expect("jit_above_cost")
        .get(0);

    let claims = [
        (
            "the limited claim",
            "bigint, bigint, text, text, timestamptz",
            mq_sql::job_claim_limited(),
            "64, 30000000, 'limited', '', NULL",
        ),
        (
            "the full claim",
            "bigint, bigint, text, text, timestamptz",
            mq_sql::job_claim(false),
            "64, 30000000, '', '', NULL",
        ),
        (
            "the full claim of some channels",
            "bigint, bigint, text, text, timestamptz, text[]",
            mq_sql::job_claim(true),
            "64, 30000000, '', '', NULL, '{big}'",
        ),
        (
            "the targeted claim",
            "bigint, bigint, text[], text[], timestamptz, bigint[], bigint[]",
            mq_sql::job_claim_targeted(),
            "64, 30000000, '{big}', '{\"\"}', NULL, '{0}', '{9223372036854775807}'",
        ),
    ];
    for (what, types, statement, args) in claims {
        let cost = cost(&client, types, statement, args).await;
        assert!(
            cost < threshold,
            "{what}: estimated cost {cost} over jit_above_cost {threshold}, with {JOBS} jobs"
        );
    }
}
