//! The two drivers, as a producer uses them: a pool of either kind that
//! spawns jobs.

use std::time::Duration;

use anyhow::Result;
use clap::ValueEnum;
use mq::{JobBuilder, Uuid};

/// One of mq's PostgreSQL drivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Driver {
    /// `mq-sqlx`.
    Sqlx,
    /// `mq-tokio-postgres`, pooled by deadpool.
    TokioPostgres,
}

impl Driver {
    /// Both drivers, alternately: the `i`th worker of a fleet uses this.
    pub fn alternate(i: usize) -> Self {
        if i.is_multiple_of(2) {
            Driver::Sqlx
        } else {
            Driver::TokioPostgres
        }
    }

    /// The name the command line takes.
    pub fn name(self) -> &'static str {
        match self {
            Driver::Sqlx => "sqlx",
            Driver::TokioPostgres => "tokio-postgres",
        }
    }
}

/// A pool of either driver.
#[derive(Clone)]
pub enum Client {
    /// sqlx's pool.
    Sqlx(sqlx::PgPool),
    /// deadpool's pool of tokio-postgres clients.
    TokioPostgres(deadpool_postgres::Pool),
}

impl Client {
    /// A pool of `size` connections to `url`, whose callers wait at most
    /// `wait` for a connection: while the server is down, spawns fail
    /// quickly instead of queueing.
    pub async fn connect(driver: Driver, url: &str, size: u32, wait: Duration) -> Result<Self> {
        Ok(match driver {
            Driver::Sqlx => Client::Sqlx(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(wait)
                    .connect(url)
                    .await?,
            ),
            Driver::TokioPostgres => {
                let config: tokio_postgres::Config = url.parse()?;
                let manager = deadpool_postgres::Manager::new(config, tokio_postgres::NoTls);
                let pool = deadpool_postgres::Pool::builder(manager)
                    .max_size(size as usize)
                    .runtime(deadpool_postgres::Runtime::Tokio1)
                    .wait_timeout(Some(wait))
                    .create_timeout(Some(wait))
                    .build()?;
                Client::TokioPostgres(pool)
            }
        })
    }

    /// A pool of each driver (see [`Client::connect`]).
    pub async fn both(url: &str, size: u32, wait: Duration) -> Result<[Self; 2]> {
        Ok([
            Self::connect(Driver::Sqlx, url, size, wait).await?,
            Self::connect(Driver::TokioPostgres, url, size, wait).await?,
        ])
    }

    /// Spawns one job.
    pub async fn spawn(&self, builder: &JobBuilder) -> mq::Result<Uuid> {
        match self {
            Client::Sqlx(pool) => builder.spawn(pool).await,
            Client::TokioPostgres(pool) => builder.spawn(pool).await,
        }
    }

    /// Spawns a batch in one statement.
    pub async fn spawn_many(&self, builders: &[JobBuilder]) -> mq::Result<Vec<Uuid>> {
        match self {
            Client::Sqlx(pool) => mq::spawn_many(pool, builders).await,
            Client::TokioPostgres(pool) => mq::spawn_many(pool, builders).await,
        }
    }

    /// Applies mq's migrations.
    pub async fn migrate(&self) -> mq::Result<()> {
        match self {
            Client::Sqlx(pool) => mq::migrate(pool).await,
            Client::TokioPostgres(pool) => mq::migrate(pool).await,
        }
    }
}
