//! What every end-to-end test needs: a fresh migrated database, ways to
//! wait for things without guessing at sleeps, and spawning and sleeping on
//! whichever runtime the test runs on.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mq::{
    Backend, BackendExt, CurrentJob, Executor, IntoBackend, JobBuilder, JobRunnerHandle,
    JobRunnerOptions, JobState, Uuid,
};
use mq_test_db::TestDb;

/// How long a test waits for something that should happen in milliseconds.
/// Generous, so that a slow CI machine does not fail a correct test.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A database driver as the end-to-end tests use it. Each test body is
/// generic over the driver, so the same body runs on every driver; the
/// methods here are the few places where user code names the driver's own
/// types (pools, transactions).
pub trait Driver: Send + Sync + Sized + 'static {
    /// The driver's marker in `Executor`.
    type Marker: 'static;
    /// The marker of what a runner is built on: `&pool` (sqlx) or a
    /// backend value (tokio-postgres, whose pool lacks the LISTEN
    /// connection's config), which the mq crate pairs with the runtime.
    type SourceMarker: 'static;
    /// The application's pool.
    type Pool: Clone + Send + Sync + 'static;

    /// Connects a pool to `url`.
    fn connect(url: &str) -> impl Future<Output = Self::Pool> + Send;
    /// What a user passes as `&pool` to the transactional calls.
    fn executor(pool: &Self::Pool) -> impl Executor<Self::Marker> + '_;
    /// What a user passes to build a runner (`&pool` or `&backend`).
    fn source(pool: &Self::Pool) -> impl IntoBackend<Self::SourceMarker> + '_;
    /// Runs SQL.
    fn exec(pool: &Self::Pool, sql: &'static str) -> impl Future<Output = ()> + Send;
    /// Reads one bigint.
    fn count(pool: &Self::Pool, sql: &'static str) -> impl Future<Output = i64> + Send;
    /// Spawns `job` inside a transaction, then commits or rolls back.
    fn spawn_in_transaction(
        pool: &Self::Pool,
        job: &JobBuilder,
        commit: bool,
    ) -> impl Future<Output = Uuid> + Send {
        Self::spawn_with(
            pool,
            job,
            TxPlan {
                commit,
                ..TxPlan::default()
            },
        )
    }
    /// Spawns `job` inside a transaction run as `plan` says.
    fn spawn_with(
        pool: &Self::Pool,
        job: &JobBuilder,
        plan: TxPlan,
    ) -> impl Future<Output = Uuid> + Send;
    /// Completes `job` in a transaction (or only checkpoints it, with
    /// `checkpoint`), keeps the transaction open for `hold`, then commits.
    fn hold_in_transaction(
        pool: &Self::Pool,
        job: &mut CurrentJob,
        checkpoint: bool,
        hold: Duration,
    ) -> impl Future<Output = mq::Result<()>> + Send;
    /// In one transaction: runs `sql`, completes `job` with the transaction,
    /// then commits or rolls back.
    fn complete_in_transaction(
        pool: &Self::Pool,
        job: &mut CurrentJob,
        sql: &'static str,
        commit: bool,
    ) -> impl Future<Output = mq::Result<()>> + Send;
    /// In one transaction: snoozes `job` for `delay` with the transaction
    /// (which the call commits).
    fn snooze_in_transaction(
        pool: &Self::Pool,
        job: &mut CurrentJob,
        delay: Duration,
    ) -> impl Future<Output = mq::Result<()>> + Send;
}

/// How [`Driver::spawn_with`] runs its transaction.
#[derive(Default)]
pub struct TxPlan {
    /// SQL run first in the transaction (`SET TRANSACTION ...`).
    pub first: Option<&'static str>,
    /// Waited for after the spawn, before the transaction ends; told when
    /// the spawn is done.
    pub hold: Option<(
        futures::channel::oneshot::Sender<Uuid>,
        futures::channel::oneshot::Receiver<()>,
    )>,
    /// Commit (or roll back).
    pub commit: bool,
}

/// The async runtime a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    Tokio,
    AsyncStd,
}

impl Runtime {
    /// The runtime of the calling task: tokio inside a tokio runtime,
    /// async-std otherwise (its global executor needs no context). This is
    /// the choice mq makes when it is built for both, so an async-std test
    /// in which a tokio runtime had crept in would be seen here.
    pub fn current() -> Self {
        if tokio::runtime::Handle::try_current().is_ok() {
            Runtime::Tokio
        } else {
            Runtime::AsyncStd
        }
    }
}

/// Spawning and sleeping on the runtime of the calling task, so that test
/// bodies are the same on every runtime.
pub mod rt {
    use std::future::Future;
    use std::time::Duration;

    use super::Runtime;

    /// Runs `future` in the background (its result and join handle are
    /// dropped).
    pub fn spawn<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) {
        match Runtime::current() {
            Runtime::Tokio => drop(tokio::spawn(future)),
            Runtime::AsyncStd => drop(async_std::task::spawn(future)),
        }
    }

    /// Waits for `duration`.
    pub async fn sleep(duration: Duration) {
        match Runtime::current() {
            Runtime::Tokio => tokio::time::sleep(duration).await,
            Runtime::AsyncStd => async_std::task::sleep(duration).await,
        }
    }
}

/// A fresh database with mq's schema, and a pool on it.
pub struct Db<D: Driver> {
    pub pool: D::Pool,
    backend: Arc<dyn Backend>,
    runtime: Runtime,
    /// Set when a job of this test was handed out on another runtime.
    wrong_runtime: Arc<AtomicBool>,
    _db: TestDb,
}

impl<D: Driver> Db<D> {
    /// A database for a test that runs on `runtime`.
    pub async fn new(runtime: Runtime) -> Self {
        assert_eq!(
            Runtime::current(),
            runtime,
            "the test runs on another runtime"
        );
        let db = TestDb::create();
        let pool = D::connect(db.url()).await;
        mq::migrate(D::executor(&pool)).await.expect("migrate");
        Self::on(pool, db, runtime)
    }

    /// A test's view of a database already migrated.
    pub fn on(pool: D::Pool, db: TestDb, runtime: Runtime) -> Self {
        Self {
            backend: D::source(&pool).into_backend(),
            pool,
            runtime,
            wrong_runtime: Arc::default(),
            _db: db,
        }
    }

    /// Panics if a job of this test was handed out on another runtime than
    /// the test's (on async-std: inside a tokio runtime).
    pub fn assert_jobs_ran_on_the_test_runtime(&self) {
        assert!(
            !self.wrong_runtime.load(Ordering::SeqCst),
            "a job of this {:?} test was handed out on another runtime",
            self.runtime
        );
    }

    /// What a user writes as `&pool` for spawning and the like.
    pub fn ex(&self) -> impl Executor<D::Marker> + '_ {
        D::executor(&self.pool)
    }

    /// What a user writes to build a runner (`&pool` or `&backend`).
    pub fn src(&self) -> impl IntoBackend<D::SourceMarker> + '_ {
        D::source(&self.pool)
    }

    /// The backend runners of this test use.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// A job's state (`None` once it completed or was discarded).
    pub async fn state(&self, id: Uuid) -> Option<JobState> {
        self.backend.job_state(id).await.expect("job_state")
    }

    /// Runs a statement.
    pub async fn exec(&self, sql: &'static str) {
        D::exec(&self.pool, sql).await
    }

    /// Reads one integer.
    pub async fn count(&self, sql: &'static str) -> i64 {
        D::count(&self.pool, sql).await
    }

    /// Waits until the job has left the queue (completed).
    pub async fn wait_gone(&self, id: Uuid) {
        wait_for(&format!("job {id} to complete"), || async move {
            self.state(id).await.is_none()
        })
        .await;
    }

    /// Waits until the job is in `state`.
    pub async fn wait_state(&self, id: Uuid, state: JobState) {
        wait_for(&format!("job {id} to be {state}"), || async move {
            self.state(id).await == Some(state)
        })
        .await;
    }
}

/// Polls `check` every 10 ms until it holds; panics after [`PATIENCE`].
pub async fn wait_for<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        rt::sleep(Duration::from_millis(10)).await;
    }
}

/// A log the jobs of a test write to, in order.
#[derive(Clone)]
pub struct Log<T>(Arc<Mutex<Vec<T>>>);

impl<T> Default for Log<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T: Clone> Log<T> {
    pub fn push(&self, item: T) {
        self.0.lock().unwrap().push(item);
    }

    pub fn items(&self) -> Vec<T> {
        self.0.lock().unwrap().clone()
    }

    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Waits until the log holds at least `n` items.
    pub async fn wait_len(&self, n: usize) -> Vec<T> {
        wait_for(&format!("{n} log entries"), || async { self.len() >= n }).await;
        self.items()
    }
}

/// Starts a runner (adjusted by `configure`) that records `record(&job)`
/// for every job it receives, then completes the job. It also notes a job
/// handed out on another runtime than the test's, for the test's final
/// check.
pub async fn recording_runner<D: Driver, T: Clone + Send + 'static>(
    db: &Db<D>,
    configure: impl FnOnce(&mut JobRunnerOptions),
    record: impl Fn(&CurrentJob) -> T + Send + Sync + 'static,
) -> (JobRunnerHandle, Log<T>) {
    let log = Log::default();
    let sink = log.clone();
    let record = Arc::new(record);
    let (runtime, wrong_runtime) = (db.runtime, db.wrong_runtime.clone());
    let mut options = JobRunnerOptions::new(db.src(), move |mut job| {
        if Runtime::current() != runtime {
            wrong_runtime.store(true, Ordering::SeqCst);
        }
        let (sink, record) = (sink.clone(), record.clone());
        rt::spawn(async move {
            sink.push(record(&job));
            job.complete().await.unwrap();
        });
    });
    configure(&mut options);
    (options.run().await.unwrap(), log)
}
