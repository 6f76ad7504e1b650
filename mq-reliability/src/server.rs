//! Restarting the PostgreSQL server under test.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tokio::process::Command;

/// The environment variable holding the `pg_ctl` command line that
/// controls the server (with its `-D` and `-l`); `scripts/throwaway-pg.sh`
/// sets it for the server it starts.
pub const PG_CTL_VAR: &str = "MQ_PG_CTL";

/// Control over the server, when the harness has it.
#[derive(Debug, Clone)]
pub struct Server {
    pg_ctl: String,
}

/// How PostgreSQL shuts down before it starts again.
#[derive(Debug, Clone, Copy)]
pub enum Shutdown {
    /// Disconnects clients, aborts their transactions, checkpoints.
    Fast,
    /// Stops every process at once, like a crash: recovery replays the WAL.
    Immediate,
}

impl Shutdown {
    /// pg_ctl's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Shutdown::Fast => "fast",
            Shutdown::Immediate => "immediate",
        }
    }
}

impl Server {
    /// The server named by [`PG_CTL_VAR`], if set.
    pub fn from_env() -> Option<Self> {
        std::env::var(PG_CTL_VAR)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .map(|pg_ctl| Self { pg_ctl })
    }

    /// Restarts the server, waiting until it accepts connections again;
    /// returns how long it was unavailable.
    pub async fn restart(&self, mode: Shutdown) -> Result<Duration> {
        let started = Instant::now();
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{} -w -t 60 -m {} restart",
                self.pg_ctl,
                mode.name()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        if !status.success() {
            bail!("pg_ctl restart -m {} failed: {status}", mode.name());
        }
        Ok(started.elapsed())
    }
}
