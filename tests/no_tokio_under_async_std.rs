//! An application on async-std gets no tokio runtime from mq: not with the
//! sqlx driver, not with the tokio-postgres driver (whose client speaks
//! through tokio's I/O traits), and not when mq is built for both runtimes
//! (the test suite builds it so).
//!
//! Its own test binary, with no tokio test in it, so that any tokio thread
//! in the process would have been started by the code under test.

use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{Manager, ManagerConfig, Pool};
use mq::{AsyncStdConnect, CurrentJob, JobBuilder, JobRegistry, JobRunnerHandle, job};
use mq_test_db::TestDb;

/// What a job saw of its surroundings.
#[derive(Clone, Debug)]
struct Seen {
    in_tokio_runtime: bool,
    thread: String,
}

type Probe = Arc<Mutex<Vec<Seen>>>;

/// Records whether it runs inside a tokio runtime, and exercises the calls
/// a job makes to the database (checkpoint, keep-alive, complete).
#[job]
async fn probe(mut job: CurrentJob, seen: Probe) -> Result<(), Box<dyn Error + Send + Sync>> {
    job.checkpoint(mq::Checkpoint::new().set_json(&"halfway")?)
        .await?;
    job.keep_alive(Duration::from_secs(30)).await?;
    seen.lock().unwrap().push(Seen {
        in_tokio_runtime: tokio::runtime::Handle::try_current().is_ok(),
        thread: std::thread::current().name().unwrap_or("").to_owned(),
    });
    job.complete().await?;
    Ok(())
}

const JOBS: usize = 20;

async fn wait_for(seen: &Probe, n: usize) {
    let start = Instant::now();
    while seen.lock().unwrap().len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {n} jobs"
        );
        async_std::task::sleep(Duration::from_millis(10)).await;
    }
}

/// The names of this process's threads (Linux's `/proc`).
fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .collect()
}

/// Threads named as tokio names its runtime's threads by default
/// ("tokio-rt-worker" in tokio 1.54, "tokio-runtime-worker" cut to 15
/// characters by Linux before it).
fn tokio_threads() -> Vec<String> {
    thread_names()
        .into_iter()
        .filter(|name| name.starts_with("tokio"))
        .collect()
}

async fn sqlx_worker(url: &str, seen: &Probe) -> JobRunnerHandle {
    let pool = sqlx::PgPool::connect(url).await.expect("connect");
    mq::migrate(&pool).await.expect("migrate");
    let mut registry = JobRegistry::new(&[probe]);
    registry.set_context(seen.clone());
    let runner = registry
        .runner(&pool)
        .run()
        .await
        .expect("start the runner");
    for _ in 0..JOBS {
        probe.builder().spawn(&pool).await.expect("spawn");
    }
    runner
}

async fn tokio_postgres_worker(url: &str, seen: &Probe) -> JobRunnerHandle {
    let config: tokio_postgres::Config = url.parse().expect("a valid URL");
    let manager = Manager::from_connect(
        config.clone(),
        AsyncStdConnect::new(),
        ManagerConfig::default(),
    );
    let pool = Pool::builder(manager).max_size(4).build().expect("pool");
    mq::migrate(&pool).await.expect("migrate");
    let backend = mq::TokioPostgresBackend::new(pool.clone(), config);
    let mut registry = JobRegistry::new(&[probe]);
    registry.set_context(seen.clone());
    let runner = registry
        .runner(&backend)
        .run()
        .await
        .expect("start the runner");
    let batch: Vec<JobBuilder> = (0..JOBS).map(|_| probe.builder()).collect();
    mq::spawn_many(&pool, &batch).await.expect("spawn_many");
    runner
}

#[async_std::test]
async fn workers_on_async_std_run_without_a_tokio_runtime() {
    assert!(tokio::runtime::Handle::try_current().is_err());
    let (sqlx_db, tokio_postgres_db) = (TestDb::create(), TestDb::create());
    let seen = Probe::default();

    // Both drivers at once, runners running while the threads are counted.
    let mut sqlx_runner = sqlx_worker(sqlx_db.url(), &seen).await;
    let mut tokio_postgres_runner = tokio_postgres_worker(tokio_postgres_db.url(), &seen).await;
    wait_for(&seen, 2 * JOBS).await;

    let seen = seen.lock().unwrap().clone();
    let in_tokio: Vec<_> = seen.iter().filter(|s| s.in_tokio_runtime).collect();
    assert!(
        in_tokio.is_empty(),
        "jobs ran inside a tokio runtime: {in_tokio:?}"
    );
    assert!(
        seen.iter().all(|s| s.thread == "async-std/runtime"),
        "jobs ran off async-std's executor: {seen:?}"
    );
    assert_eq!(
        tokio_threads(),
        Vec::<String>::new(),
        "threads: {:?}",
        thread_names()
    );

    sqlx_runner.stop().await;
    tokio_postgres_runner.stop().await;

    // The check itself can fail: a tokio runtime's threads are seen (once
    // they have named themselves, which a new thread does when it starts).
    let control = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let start = Instant::now();
    while tokio_threads().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "a tokio runtime's threads are not seen: {:?}",
            thread_names()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    control.shutdown_background();
}
