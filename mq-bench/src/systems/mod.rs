//! The queues under test, behind one small trait the scenarios use.
//!
//! Each system lives in a database of its own on the same server, created
//! afresh at the start of a benchmark run.

pub mod graphile;
pub mod mq;
pub mod raw;
pub mod river;
pub mod sqlxmq;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use async_trait::async_trait;

use crate::recorder::{ClaimTimes, Payload, Recorder};

/// Which system; also the name used on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SystemKind {
    /// mq with the sqlx driver, on tokio.
    MqSqlx,
    /// mq with the tokio-postgres driver (deadpool), on tokio.
    MqTokioPostgres,
    /// sqlxmq 0.6, the queue mq re-designs.
    Sqlxmq,
    /// riverqueue 0.5, River's Rust client.
    River,
    /// graphile-worker 0.18, a Node.js queue, in a Node process (optional:
    /// see [`SystemKind::unavailable`]).
    Graphile,
    /// Bare SQL with no queue library: the floor.
    Raw,
}

impl SystemKind {
    /// Every system, in the order the tables list them.
    pub const ALL: [SystemKind; 6] = [
        SystemKind::MqSqlx,
        SystemKind::MqTokioPostgres,
        SystemKind::Sqlxmq,
        SystemKind::River,
        SystemKind::Graphile,
        SystemKind::Raw,
    ];

    /// The name on the command line and in the tables.
    pub fn name(self) -> &'static str {
        match self {
            SystemKind::MqSqlx => "mq-sqlx",
            SystemKind::MqTokioPostgres => "mq-tokio-postgres",
            SystemKind::Sqlxmq => "sqlxmq",
            SystemKind::River => "river",
            SystemKind::Graphile => "graphile-worker",
            SystemKind::Raw => "raw",
        }
    }

    /// Whether this is one of mq's drivers (whose figures get ratios).
    pub fn is_mq(self) -> bool {
        matches!(self, SystemKind::MqSqlx | SystemKind::MqTokioPostgres)
    }

    /// Whether a failure of this system fails the benchmark: mq's, and the
    /// raw floor's (which is this benchmark's own code). A peer's failure
    /// is a finding about that peer, told in its table: sqlxmq 0.6 has been
    /// seen to hit a deadlock in `complete` with four worker processes and
    /// then run a job twice.
    pub fn failure_is_fatal(self) -> bool {
        self.is_mq() || self == SystemKind::Raw
    }

    /// The database this system's tables live in.
    pub fn database(self) -> &'static str {
        match self {
            SystemKind::MqSqlx | SystemKind::MqTokioPostgres => "mq_bench_mq",
            SystemKind::Sqlxmq => "mq_bench_sqlxmq",
            SystemKind::River => "mq_bench_river",
            SystemKind::Graphile => "mq_bench_graphile",
            SystemKind::Raw => "mq_bench_raw",
        }
    }

    /// Why this system cannot run on this machine, if it cannot: only
    /// graphile-worker, which needs Node and its npm packages, may be
    /// missing.
    pub fn unavailable(self) -> Option<&'static str> {
        match self {
            SystemKind::Graphile => graphile::install().err(),
            _ => None,
        }
    }
}

impl fmt::Display for SystemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SystemKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match SystemKind::ALL.iter().find(|k| k.name() == s) {
            Some(k) => Ok(*k),
            None => bail!(
                "unknown system {s:?}; known: {}",
                SystemKind::ALL.map(|k| k.name()).join(", ")
            ),
        }
    }
}

/// Runner settings: each system's defaults, or settings tuned for
/// throughput (each system describes its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The library's defaults (where it has none, the setting its
    /// documentation uses).
    Default,
    /// Settings chosen for throughput.
    Tuned,
}

/// How to start a runner.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Default or tuned settings.
    pub profile: Profile,
    /// If set, the jobs are on this many ordered channels (River, which
    /// has no ordered channels, needs to know its queues up front;
    /// graphile-worker's named queues need nothing).
    pub ordered_channels: Option<u32>,
    /// If set, the runner reports how long each of its claim statements
    /// takes here (mq and raw do; sqlxmq, River and graphile-worker, which
    /// no scenario asks this of, ignore it).
    pub claim_times: Option<Arc<ClaimTimes>>,
    /// If set, each job's handler takes this long (sleeping) before it
    /// completes the job, so that jobs hold their slots, as in a scenario
    /// of limits on how many run at once; by default jobs do nothing (mq
    /// honors it; sqlxmq, River, graphile-worker and raw, which no scenario
    /// asks it of, ignore it).
    pub job_duration: Option<Duration>,
}

impl RunnerOptions {
    /// Default settings, unordered jobs that do nothing, no claim times.
    pub fn default_settings() -> Self {
        RunnerOptions {
            profile: Profile::Default,
            ordered_channels: None,
            claim_times: None,
            job_duration: None,
        }
    }
}

/// Settings shared by all systems.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server's URL; each system connects to its own database there.
    pub server_url: String,
    /// Connections per pool (the same for every system).
    pub pool_size: u32,
    /// Whether the sqlx pools under test ping a connection before handing
    /// it out (sqlx's default, `test_before_acquire`): a round trip per
    /// acquire, which one-job-per-call spawns pay once per job.
    pub pool_ping: bool,
    /// Rows per statement of the raw-SQL floor.
    pub raw_batch: usize,
}

/// A running runner of some system.
#[async_trait]
pub trait RunnerHandle: Send {
    /// Stops claiming and waits for running jobs to finish.
    async fn stop(self: Box<Self>) -> Result<()>;
}

/// A queue under test.
#[async_trait]
pub trait System: Send + Sync {
    /// Which system this is.
    fn kind(&self) -> SystemKind;

    /// Deletes every job, so that a run starts from an empty queue.
    async fn reset(&self) -> Result<()>;

    /// Spawns one job in one call (its own transaction).
    async fn spawn_one(&self, job: &Payload) -> Result<()>;

    /// Spawns a batch with the system's batch API (or its closest
    /// equivalent, which [`batch_api`](Self::batch_api) names).
    async fn spawn_batch(&self, jobs: &[Payload]) -> Result<()>;

    /// How [`spawn_batch`](Self::spawn_batch) inserts.
    fn batch_api(&self) -> String;

    /// Fills the queue before a drain, not timed: as fast as the system's
    /// SQL allows. Defaults to [`spawn_batch`](Self::spawn_batch).
    async fn preload(&self, jobs: &[Payload]) -> Result<()> {
        self.spawn_batch(jobs).await
    }

    /// The jobs still waiting or running (not completed).
    async fn pending(&self) -> Result<i64>;

    /// Starts a runner that reports to `recorder`; each job completes as
    /// soon as it starts (or, where the system honors
    /// [`RunnerOptions::job_duration`], once that has passed).
    async fn start_runner(
        &self,
        options: RunnerOptions,
        recorder: Arc<Recorder>,
    ) -> Result<Box<dyn RunnerHandle>>;

    /// What `profile` means for this system's runner.
    fn describe(&self, profile: Profile) -> String;

    /// The system's hot tables (for vacuum and statistics).
    fn tables(&self) -> &'static [&'static str];

    /// A sqlx pool on the system's database, for statistics and vacuum.
    fn admin_pool(&self) -> &sqlx::PgPool;

    /// This system as mq, if it is one of mq's drivers: for scenarios that
    /// set up states only mq has (failed ordered jobs holding channels).
    fn as_mq(&self) -> Option<&mq::MqSystem> {
        None
    }
}

/// Connects to `kind`'s database (which must exist and be migrated, see
/// [`setup`]).
pub async fn connect(kind: SystemKind, config: &Config) -> Result<Arc<dyn System>> {
    let url = crate::db::with_database(&config.server_url, kind.database())?;
    Ok(match kind {
        SystemKind::MqSqlx | SystemKind::MqTokioPostgres => {
            Arc::new(mq::MqSystem::connect(kind, &url, config).await?)
        }
        SystemKind::Sqlxmq => Arc::new(sqlxmq::SqlxmqSystem::connect(&url, config).await?),
        SystemKind::River => Arc::new(river::RiverSystem::connect(&url, config).await?),
        SystemKind::Graphile => Arc::new(graphile::GraphileSystem::connect(&url, config).await?),
        SystemKind::Raw => Arc::new(raw::RawSystem::connect(&url, config).await?),
    })
}

/// Creates `kind`'s database afresh and applies its schema.
pub async fn setup(kind: SystemKind, config: &Config) -> Result<()> {
    crate::db::recreate_database(&config.server_url, kind.database()).await?;
    let url = crate::db::with_database(&config.server_url, kind.database())?;
    match kind {
        SystemKind::MqSqlx | SystemKind::MqTokioPostgres => mq::migrate(&url).await,
        SystemKind::Sqlxmq => sqlxmq::migrate(&url).await,
        SystemKind::River => river::migrate(&url).await,
        SystemKind::Graphile => graphile::migrate(&url).await,
        SystemKind::Raw => raw::migrate(&url).await,
    }
}
