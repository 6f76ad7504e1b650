//! The claim statements' plans over a large queue:
//! - their estimated cost stays under the server's `jit_above_cost`, so
//!   that PostgreSQL never JIT compiles a claim. Compiling costs hundreds of
//!   milliseconds, on every execution whose plan is over the threshold; a
//!   limited claim whose estimate counted a tenth of a channel's jobs took
//!   360-480 ms a claim at a million jobs;
//! - PostgreSQL keeps their generic plans, so that a claim is not planned
//!   afresh each time (0.35 ms a targeted claim, 1.1 ms a limited one).
//!
//! The ordinary claims and the limited claim, over 300,000 ready jobs.

use deadpool_postgres::{Manager, Pool};
use mq_test_db::TestDb;
// Its executor impls, which `migrate` uses.
use mq_tokio_postgres as _;
use tokio_postgres::NoTls;

const JOBS: i64 = 300_000;

/// The estimated total cost of `statement` (a prepared-statement text with
/// parameters of `types`) run with `args`, as the server plans it under
/// `plan_cache_mode` (`force_custom_plan` or `force_generic_plan`).
async fn cost(
    client: &tokio_postgres::Client,
    plan_cache_mode: &str,
    types: &str,
    statement: &str,
    args: &str,
) -> f64 {
    client
        .batch_execute(&format!(
            "BEGIN; SET LOCAL plan_cache_mode = {plan_cache_mode};
             PREPARE planned({types}) AS {statement}"
        ))
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
        .batch_execute("ROLLBACK; DEALLOCATE planned")
        .await
        .expect("deallocate");
    cost
}

/// How many of ten executions of `statement` (as in [`cost`]) PostgreSQL
/// ran with its generic plan, in a transaction rolled back at the end.
async fn generic_plans(
    client: &tokio_postgres::Client,
    types: &str,
    statement: &str,
    args: &str,
) -> i64 {
    client
        .batch_execute(&format!("BEGIN; PREPARE planned({types}) AS {statement}"))
        .await
        .expect("prepare");
    for _ in 0..10 {
        client
            .batch_execute(&format!("EXECUTE planned({args})"))
            .await
            .expect("execute");
    }
    let generic: i64 = client
        .query_one(
            "SELECT generic_plans FROM pg_prepared_statements WHERE name = 'planned'",
            &[],
        )
        .await
        .expect("pg_prepared_statements")
        .get(0);
    client
        .batch_execute("ROLLBACK; DEALLOCATE planned")
        .await
        .expect("deallocate");
    generic
}

/// A database with `JOBS` ready jobs, half of them on the channel `big`
/// and half on `limited`, which has a concurrency limit of 1,000, and a
/// function `plan_cost(query)` that gives the estimated cost of `query`.
async fn large_queue(db: &TestDb) -> deadpool_postgres::Object {
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
    client
}

/// Each claim statement: what it is, its parameters' types, and its
/// arguments for a claim of `limit` jobs.
fn claims(limit: u32) -> [(&'static str, &'static str, &'static str, String); 5] {
    let limited_types = "bigint, bigint, text, text, timestamptz, text[], bigint[], bigint[]";
    [
        (
            "the limited claim from the front",
            limited_types,
            mq_sql::job_claim_limited(limit),
            format!("{limit}, 30000000, 'limited', '', NULL, '{{}}', '{{}}', '{{}}'"),
        ),
        (
            "the limited claim from its places",
            limited_types,
            mq_sql::job_claim_limited(limit),
            format!(
                "{limit}, 30000000, 'limited', '', NULL, '{{\"\"}}', '{{0}}', '{{9223372036854775807}}'"
            ),
        ),
        (
            "the full claim",
            "bigint, bigint, text, text, timestamptz",
            mq_sql::job_claim(false, limit),
            format!("{limit}, 30000000, '', '', NULL"),
        ),
        (
            "the full claim of some channels",
            "bigint, bigint, text, text, timestamptz, text[]",
            mq_sql::job_claim(true, limit),
            format!("{limit}, 30000000, '', '', NULL, '{{big}}'"),
        ),
        (
            "the targeted claim",
            "bigint, bigint, text[], text[], timestamptz, bigint[], bigint[]",
            mq_sql::job_claim_targeted(limit),
            format!(
                "{limit}, 30000000, '{{big}}', '{{\"\"}}', NULL, '{{0}}', '{{9223372036854775807}}'"
            ),
        ),
    ]
}

#[tokio::test]
async fn claims_stay_under_the_jit_threshold_over_a_large_queue() {
    let db = TestDb::create();
    let client = large_queue(&db).await;
    let threshold: f64 = client
        .query_one("SELECT current_setting('jit_above_cost')::float8", &[])
        .await
        .expect("jit_above_cost")
        .get(0);

    for limit in [64, 1000] {
        for (what, types, statement, args) in claims(limit) {
            for plan in ["force_custom_plan", "force_generic_plan"] {
                let cost = cost(&client, plan, types, statement, &args).await;
                assert!(
                    cost < threshold,
                    "{what}, limit {limit}, {plan}: estimated cost {cost} over \
                     jit_above_cost {threshold}, with {JOBS} jobs"
                );
            }
        }
    }
}

/// PostgreSQL keeps each claim's generic plan, rather than planning every
/// claim afresh: their limit's size class lets it estimate the rows (see
/// `SizeClassed` in mq-sql). Before, the generic plans cost several times
/// the custom ones and none was ever used.
#[tokio::test]
async fn claims_keep_their_generic_plans() {
    let db = TestDb::create();
    let client = large_queue(&db).await;
    for limit in [1, 3, 4, 5, 64, 65, 200, 1000] {
        for (what, types, statement, args) in claims(limit) {
            let generic = generic_plans(&client, types, statement, &args).await;
            // The first five executions are always planned afresh.
            assert_eq!(generic, 5, "{what}, limit {limit}: {generic} of 10 generic");
        }
    }
}
