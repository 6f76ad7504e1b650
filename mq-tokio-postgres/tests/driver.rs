//! What is particular to this driver, beside the shared conformance suite:
//! the wake-up connection's recovery and shutdown, the handles the
//! transactional calls take, and errors that keep tokio-postgres's own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, Pool};
use futures::StreamExt;
use futures::stream::BoxStream;
use mq_core::Spawner;
use mq_core::backend::{ListenParams, Wakeup};
use mq_core::{Backend, JobBuilder};
use mq_runtime_tokio::TokioSpawner;
use mq_test_db::TestDb;
use mq_tokio_postgres::TokioPostgresBackend;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls};

struct Fixture {
    config: tokio_postgres::Config,
    pool: Pool,
    backend: TokioPostgresBackend,
    _db: TestDb,
}

async fn fixture() -> Fixture {
    let db = TestDb::create();
    let config: tokio_postgres::Config = db.url().parse().expect("a valid database URL");
    let pool = Pool::builder(Manager::new(config.clone(), NoTls))
        .max_size(4)
        .build()
        .expect("build the pool");
    mq_core::migrate(&pool).await.expect("migrate");
    let backend = TokioPostgresBackend::new(pool.clone(), config.clone());
    Fixture {
        config,
        pool,
        backend,
        _db: db,
    }
}

impl Fixture {
    /// The backend's wake-up stream, its connection run on tokio.
    async fn listen(&self) -> mq_core::Result<BoxStream<'static, Wakeup>> {
        listen(&self.backend).await
    }

    /// A bare tokio-postgres connection, outside any pool.
    async fn client(&self) -> Client {
        let (client, connection) = self.config.connect(NoTls).await.expect("connect");
        tokio::spawn(connection);
        client
    }

    /// The server processes of this database that are listening.
    async fn listener_pids(&self) -> Vec<i32> {
        let client = self.pool.get().await.unwrap();
        client
            .query(
                "SELECT pid FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN %'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    async fn wait_listeners(&self, n: usize) -> Vec<i32> {
        let start = Instant::now();
        loop {
            let pids = self.listener_pids().await;
            if pids.len() == n {
                return pids;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "expected {n} listening connections, found {}",
                pids.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn listen(backend: &TokioPostgresBackend) -> mq_core::Result<BoxStream<'static, Wakeup>> {
    let spawner: Arc<dyn Spawner> = Arc::new(TokioSpawner::new());
    backend.listen(ListenParams { spawner: &spawner }).await
}

async fn next(wakeups: &mut BoxStream<'static, Wakeup>) -> Wakeup {
    tokio::time::timeout(Duration::from_secs(20), wakeups.next())
        .await
        .expect("no wake-up within 20 s")
        .expect("the wake-up stream ended")
}

/// Whether `wakeup` tells of jobs ready on `channel` (a spawn tells their
/// place in the ready queue too).
fn ready_on(wakeup: &Wakeup, channel: &str) -> bool {
    matches!(wakeup, Wakeup::Queued { channel: c, .. } if c.name == channel && c.args.is_empty())
}

async fn spawn_on(pool: &Pool, channel: &str) -> mq_core::Uuid {
    let mut job = JobBuilder::new("j");
    job.set_channel_name(channel);
    job.spawn(pool).await.expect("spawn")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_recovers_after_its_connection_is_killed() {
    let f = fixture().await;
    let mut wakeups = f.listen().await.expect("listen");
    spawn_on(&f.pool, "before").await;
    let wakeup = next(&mut wakeups).await;
    assert!(ready_on(&wakeup, "before"), "{wakeup:?}");

    let pid = f.wait_listeners(1).await[0];
    let client = f.pool.get().await.unwrap();
    client
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();

    // Whatever was sent while it was down is lost: the stream says so once
    // it listens again.
    assert_eq!(next(&mut wakeups).await, Wakeup::Resync);
    let new_pid = f.wait_listeners(1).await[0];
    assert_ne!(new_pid, pid);
    spawn_on(&f.pool, "after").await;
    let wakeup = next(&mut wakeups).await;
    assert!(ready_on(&wakeup, "after"), "{wakeup:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_closes_the_listening_connection() {
    let f = fixture().await;
    let wakeups = f.listen().await.expect("listen");
    f.wait_listeners(1).await;
    drop(wakeups);
    f.wait_listeners(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_fails_when_the_server_cannot_be_reached() {
    let f = fixture().await;
    let mut config = f.config.clone();
    config.dbname("mq_no_such_database");
    let backend = TokioPostgresBackend::new(f.pool.clone(), config);
    let error = match listen(&backend).await {
        Ok(_) => panic!("listening on a missing database succeeded"),
        Err(error) => error,
    };
    let source = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<tokio_postgres::Error>())
        .expect("the source is a tokio_postgres::Error");
    assert_eq!(source.code(), Some(&SqlState::INVALID_CATALOG_NAME));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_keep_the_tokio_postgres_error_and_its_sqlstate() {
    let f = fixture().await;
    let job = JobBuilder::new("once");
    job.spawn(&f.pool).await.unwrap();
    let error = job.spawn(&f.pool).await.expect_err("a duplicate id");
    assert!(!error.is_transient(), "{error:?}");
    let source = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<tokio_postgres::Error>())
        .expect("the source is a tokio_postgres::Error");
    assert_eq!(source.code(), Some(&SqlState::UNIQUE_VIOLATION));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_is_a_transient_error() {
    let f = fixture().await;
    let client = f.client().await;
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let other = f.pool.get().await.unwrap();
    other
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    let error = mq_core::exists(&client, mq_core::Uuid::now_v7())
        .await
        .expect_err("the connection is gone");
    assert!(error.is_transient(), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bare_clients_and_transactions_are_executors() {
    let f = fixture().await;
    let mut client = f.client().await;

    // A client outside a transaction.
    let on_client = JobBuilder::new("client").spawn(&client).await.unwrap();
    assert!(mq_core::exists(&client, on_client).await.unwrap());

    // A borrowed transaction: the caller decides.
    let tx = client.transaction().await.unwrap();
    let rolled_back = JobBuilder::new("rolled back").spawn(&tx).await.unwrap();
    assert!(mq_core::exists(&tx, rolled_back).await.unwrap());
    tx.rollback().await.unwrap();
    assert!(!mq_core::exists(&client, rolled_back).await.unwrap());

    // An owned transaction is committed by the call.
    let tx = client.transaction().await.unwrap();
    let committed = JobBuilder::new("committed").spawn(tx).await.unwrap();
    assert!(mq_core::exists(&f.pool, committed).await.unwrap());

    // `&mut` works as well as `&`.
    let mut tx = client.transaction().await.unwrap();
    let via_mut = JobBuilder::new("via &mut").spawn(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert!(mq_core::exists(&f.pool, via_mut).await.unwrap());

    assert_eq!(mq_core::clear_all(&client).await.unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_connections_and_transactions_are_executors() {
    let f = fixture().await;
    let mut client = f.pool.get().await.unwrap();
    let on_client = JobBuilder::new("client").spawn(&client).await.unwrap();

    let tx = client.transaction().await.unwrap();
    let rolled_back = JobBuilder::new("rolled back").spawn(&tx).await.unwrap();
    tx.rollback().await.unwrap();

    let tx = client.transaction().await.unwrap();
    let committed = JobBuilder::new("committed").spawn(tx).await.unwrap();

    assert!(mq_core::exists(&client, on_client).await.unwrap());
    assert!(!mq_core::exists(&client, rolled_back).await.unwrap());
    assert!(mq_core::exists(&client, committed).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_on_a_bare_client_and_in_a_transaction() {
    let db = TestDb::create();
    let config: tokio_postgres::Config = db.url().parse().unwrap();
    let (mut client, connection) = config.connect(NoTls).await.unwrap();
    tokio::spawn(connection);

    // In a transaction that rolls back, the migrations roll back with it.
    let tx = client.transaction().await.unwrap();
    mq_core::migrate(&tx).await.unwrap();
    tx.rollback().await.unwrap();
    let exists = "SELECT to_regclass('mq_jobs') IS NOT NULL";
    assert!(
        !client
            .query_one(exists, &[])
            .await
            .unwrap()
            .get::<_, bool>(0)
    );

    // On a client, they commit on their own; a second run does nothing.
    mq_core::migrate(&client).await.unwrap();
    mq_core::migrate(&client).await.unwrap();
    assert!(
        client
            .query_one(exists, &[])
            .await
            .unwrap()
            .get::<_, bool>(0)
    );
    // Outside a transaction block, SAVEPOINT is refused.
    let probe = client.batch_execute("SAVEPOINT mq_probe").await;
    assert_eq!(
        probe
            .expect_err("migrate left the client inside a transaction")
            .code(),
        Some(&SqlState::NO_ACTIVE_SQL_TRANSACTION)
    );

    // A newer schema is refused, and the client is left usable.
    client
        .batch_execute("INSERT INTO mq_migrations (version, name) VALUES (1000, 'future')")
        .await
        .unwrap();
    let error = mq_core::migrate(&client).await.expect_err("a newer schema");
    assert!(
        matches!(error, mq_core::Error::SchemaTooNew { found: 1000, .. }),
        "{error:?}"
    );
    client.batch_execute("SELECT 1").await.unwrap();
}

/// No notification is lost between spawns in quick succession.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spawn_wakes_the_listener() {
    let f = fixture().await;
    let mut wakeups = f.listen().await.expect("listen");
    for i in 0..100 {
        spawn_on(&f.pool, "c").await;
        let got = tokio::time::timeout(Duration::from_secs(5), wakeups.next()).await;
        assert!(
            matches!(&got, Ok(Some(wakeup)) if ready_on(wakeup, "c")),
            "spawn {i}: {got:?}"
        );
        if i % 3 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
