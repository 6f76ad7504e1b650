//! Worker processes: started from this same binary, killed with SIGKILL,
//! replaced.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::client::Driver;
use crate::task::now_epoch;

/// How a worker runs (see [`crate::worker::WorkerArgs`]).
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// Its driver.
    pub driver: Driver,
    /// Its runner's lease.
    pub lease: Duration,
    /// Its runner's poll interval.
    pub poll: Duration,
    /// Its runner's concurrency (min, max).
    pub concurrency: (usize, usize),
    /// Its pool's size.
    pub pool: u32,
    /// Whether jobs work inside their transaction.
    pub sql_sleep: bool,
    /// Declares the periodic schedule, with this schedule lease (`None`:
    /// no schedule).
    pub schedule_lease: Option<Duration>,
}

impl WorkerSpec {
    /// Defaults for `driver`: concurrency 8..16, a pool of 10, a 1 s poll.
    pub fn new(driver: Driver, lease: Duration) -> Self {
        Self {
            driver,
            lease,
            poll: Duration::from_secs(1),
            concurrency: (8, 16),
            pool: 10,
            sql_sleep: false,
            schedule_lease: None,
        }
    }
}

/// A running worker process.
pub struct Worker {
    /// Its number, recorded with every attempt it starts.
    pub incarnation: i32,
    /// How it runs.
    pub spec: WorkerSpec,
    child: Child,
    stdin: Option<ChildStdin>,
    _stdout: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    /// Its process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// A worker killed by the harness.
#[derive(Debug, Clone, Copy)]
pub struct Kill {
    /// Which worker.
    pub incarnation: i32,
    /// When, in seconds since the Unix epoch.
    pub at: f64,
}

/// The worker processes of one scenario.
pub struct Fleet {
    url: String,
    log_dir: PathBuf,
    next_incarnation: i32,
    /// The workers, by slot.
    pub workers: Vec<Worker>,
    /// Every kill so far.
    pub kills: Vec<Kill>,
}

impl Fleet {
    /// No workers yet; they will work on the database at `url` and write
    /// their logs into `log_dir`.
    pub fn new(url: &str, log_dir: &Path) -> Self {
        Self {
            url: url.to_owned(),
            log_dir: log_dir.to_owned(),
            next_incarnation: 1,
            workers: Vec::new(),
            kills: Vec::new(),
        }
    }

    /// Starts a worker and waits until its runner runs; returns its slot.
    pub async fn start(&mut self, spec: WorkerSpec) -> Result<usize> {
        let worker = self.launch(spec).await?;
        self.workers.push(worker);
        Ok(self.workers.len() - 1)
    }

    async fn launch(&mut self, spec: WorkerSpec) -> Result<Worker> {
        let incarnation = self.next_incarnation;
        self.next_incarnation += 1;
        let log_path = self.log_dir.join(format!("worker-{incarnation}.log"));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut child = Command::new(std::env::current_exe()?)
            .arg("worker")
            .args(["--driver", spec.driver.name()])
            .args(["--url", &self.url])
            .args(["--incarnation", &incarnation.to_string()])
            .args(["--lease-ms", &spec.lease.as_millis().to_string()])
            .args(["--poll-ms", &spec.poll.as_millis().to_string()])
            .args(["--min", &spec.concurrency.0.to_string()])
            .args(["--max", &spec.concurrency.1.to_string()])
            .args(["--pool", &spec.pool.to_string()])
            .args(spec.sql_sleep.then_some("--sql-sleep"))
            .args(
                spec.schedule_lease
                    .map(|lease| format!("--schedule-lease-ms={}", lease.as_millis())),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .context("starting a worker process")?;
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().context("worker stdout")?).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), stdout.next_line()).await;
        match ready {
            Ok(Ok(Some(line))) if line == "ready" => {}
            other => bail!(
                "worker {incarnation} did not start ({other:?}); see {}",
                log_path.display()
            ),
        }
        Ok(Worker {
            incarnation,
            spec,
            child,
            stdin,
            _stdout: stdout,
        })
    }

    /// Starts `n` workers like `spec`, alternating between the drivers.
    pub async fn start_alternating(&mut self, n: usize, spec: WorkerSpec) -> Result<()> {
        for i in 0..n {
            let driver = Driver::alternate(i);
            self.start(WorkerSpec {
                driver,
                ..spec.clone()
            })
            .await?;
        }
        Ok(())
    }

    /// The slot of the worker `incarnation`, if it runs.
    pub fn slot_of(&self, incarnation: i32) -> Option<usize> {
        self.workers
            .iter()
            .position(|worker| worker.incarnation == incarnation)
    }

    /// Kills the worker in `slot` with SIGKILL, mid-job as likely as not.
    pub async fn kill(&mut self, slot: usize) -> Result<Kill> {
        let worker = &mut self.workers[slot];
        worker.child.start_kill()?;
        let kill = Kill {
            incarnation: worker.incarnation,
            at: now_epoch(),
        };
        worker.child.wait().await?;
        self.kills.push(kill);
        Ok(kill)
    }

    /// Kills the worker in `slot` and starts another like it in its place.
    pub async fn replace(&mut self, slot: usize) -> Result<Kill> {
        let kill = self.kill(slot).await?;
        self.respawn(slot).await?;
        Ok(kill)
    }

    /// Starts another worker like the one in `slot`, which was killed, in
    /// its place. Apart from [`Fleet::kill`] for a harness that reads what
    /// the dead worker left behind before its replacement starts (which,
    /// on a debug build, takes a second or so).
    pub async fn respawn(&mut self, slot: usize) -> Result<()> {
        let spec = self.workers[slot].spec.clone();
        self.workers[slot] = self.launch(spec).await?;
        Ok(())
    }

    /// Stops every worker gracefully (closing its standard input), killing
    /// any that has not exited after 60 s.
    pub async fn stop_all(&mut self) -> Result<()> {
        for worker in &mut self.workers {
            worker.stdin = None;
        }
        for worker in &mut self.workers {
            let exited = tokio::time::timeout(Duration::from_secs(60), worker.child.wait()).await;
            if exited.is_err() {
                worker.child.start_kill()?;
                worker.child.wait().await?;
            }
        }
        Ok(())
    }
}
