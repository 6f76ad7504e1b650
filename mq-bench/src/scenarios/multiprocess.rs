//! Scenario 7: several runner processes on one queue. The benchmark starts
//! copies of itself (`mq-bench worker`), each with one runner; they report
//! which jobs they ran, and the parent checks that every job ran exactly
//! once. Scenario 11 (channel limits) starts the same workers, with jobs
//! that take a while (`--job-ms`).
//!
//! The protocol, one line each, on the worker's stdin and stdout: the
//! worker prints `ready` once connected; the parent writes `go`; the worker
//! starts its runner and prints `progress <completed>` every 50 ms; the
//! parent writes `stop` once all jobs are done (or, in scenario 11, once it
//! has measured enough); the worker stops its runner and prints
//! `ran <n>,<n>,...` and `end`.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use super::{Ctx, payloads, prefill, reset};
use crate::recorder::Recorder;
use crate::report::{Column, Table, Unit, thousands};
use crate::systems::{self, Config, RunnerOptions, System, SystemKind};

/// The table of scenario 7.
pub fn table(ctx: &Ctx) -> Table {
    let s = &ctx.sizes;
    let mut table = Table::new(
        format!(
            "7. {} runner processes competing for one queue of {} jobs (default settings each)",
            s.processes,
            thousands(s.multiprocess_jobs as i64)
        ),
        vec![
            Column::new("jobs/s", Unit::Rate),
            Column::new("fewest jobs in a process", Unit::Count),
            Column::new("most jobs in a process", Unit::Count),
        ],
    );
    table.note("every run checks that each job ran exactly once across the processes; a job lost or run twice fails the benchmark for mq and the raw floor, and is reported here for the other queues");
    table
}

/// Runner processes (`mq-bench worker`), each with one runner, started
/// and spoken to over the protocol of the module docs: scenario 7's, and
/// scenario 11's (whose jobs take a while).
pub(super) struct Workers {
    workers: Vec<Worker>,
    reports: mpsc::UnboundedReceiver<Report>,
    /// Jobs completed so far, per process, as last reported.
    progress: Vec<usize>,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
}

enum Report {
    Ready,
    Progress(usize, usize),
    Ran(usize, Vec<u32>),
    Failed(usize, String),
}

impl Workers {
    /// Starts `processes` workers of `system`'s kind for jobs numbered
    /// `0..jobs`, each job's handler taking `job_duration` (none: jobs
    /// that do nothing), and waits until each has connected.
    pub async fn start(
        ctx: &Ctx,
        system: &Arc<dyn System>,
        processes: usize,
        jobs: usize,
        job_duration: Option<Duration>,
    ) -> Result<Self> {
        let exe = std::env::current_exe()?;
        let job_ms = job_duration.map_or(0, |d| d.as_millis());
        let (tx, reports) = mpsc::unbounded_channel();
        let mut workers = Vec::new();
        for index in 0..processes {
            let mut child = Command::new(&exe)
                .arg("worker")
                .args(["--system", system.kind().name()])
                .args(["--database-url", &ctx.config.server_url])
                .args(["--jobs", &jobs.to_string()])
                .args(["--job-ms", &job_ms.to_string()])
                .args(["--pool-size", &ctx.config.pool_size.to_string()])
                .args(["--raw-batch", &ctx.config.raw_batch.to_string()])
                .args((!ctx.config.pool_ping).then_some("--no-pool-ping"))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .context("starting a worker process")?;
            let stdin = child.stdin.take().context("no stdin")?;
            let stdout = child.stdout.take().context("no stdout")?;
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                loop {
                    let report = match lines.next_line().await {
                        Ok(Some(line)) => parse(index, &line),
                        Ok(None) => Report::Failed(index, "exited early".into()),
                        Err(e) => Report::Failed(index, e.to_string()),
                    };
                    let last = matches!(report, Report::Ran(..) | Report::Failed(..));
                    if tx.send(report).is_err() || last {
                        return;
                    }
                }
            });
            workers.push(Worker { child, stdin });
        }
        drop(tx);
        let mut fleet = Workers {
            workers,
            reports,
            progress: vec![0; processes],
        };
        let mut ready = 0;
        while ready < processes {
            if let Report::Ready = fleet.next().await? {
                ready += 1;
            }
        }
        Ok(fleet)
    }

    /// Tells every worker to start its runner.
    pub async fn go(&mut self) -> Result<()> {
        for worker in &mut self.workers {
            worker.stdin.write_all(b"go\n").await?;
        }
        Ok(())
    }

    /// Waits for the next report (a worker reports its progress every
    /// 50 ms); returns the jobs completed so far across the workers. Fails
    /// if a worker did.
    pub async fn progress(&mut self) -> Result<usize> {
        self.next().await?;
        Ok(self.progress.iter().sum())
    }

    /// Tells every worker to stop its runner (which waits for the jobs it
    /// runs to finish), and returns the jobs each one ran, once for each
    /// time it ran them.
    pub async fn stop(mut self) -> Result<Vec<Vec<u32>>> {
        for worker in &mut self.workers {
            worker.stdin.write_all(b"stop\n").await?;
        }
        let mut ran = vec![None; self.workers.len()];
        while ran.iter().any(Option::is_none) {
            if let Report::Ran(i, jobs) = self.next().await? {
                ran[i] = Some(jobs);
            }
        }
        for worker in &mut self.workers {
            worker.child.wait().await?;
        }
        Ok(ran.into_iter().flatten().collect())
    }

    /// The next report, having noted the progress it carries; a failure
    /// is an error.
    async fn next(&mut self) -> Result<Report> {
        let report = match tokio::time::timeout(Duration::from_secs(120), self.reports.recv()).await
        {
            Ok(Some(report)) => report,
            Ok(None) => bail!("every worker's output closed"),
            Err(_) => bail!("no word from any worker for 120 s"),
        };
        match &report {
            Report::Progress(i, done) => self.progress[*i] = *done,
            Report::Failed(i, e) => bail!("worker {i}: {e}"),
            _ => {}
        }
        Ok(report)
    }
}

/// Pre-fills the queue, then drains it with the workers.
pub async fn run(ctx: &Ctx, system: &Arc<dyn System>, table: &mut Table) -> Result<()> {
    let jobs = ctx.sizes.multiprocess_jobs;
    let processes = ctx.sizes.processes.max(1);
    reset(system).await?;
    prefill(ctx, system, &payloads(jobs)).await?;
    let (seconds, per_process) = drain(ctx, system, processes, jobs).await?;
    table.add(
        system.kind(),
        &format!("{processes} processes"),
        &[
            Some(jobs as f64 / seconds),
            per_process.iter().min().map(|&m| m as f64),
            per_process.iter().max().map(|&m| m as f64),
        ],
    );
    Ok(())
}

/// Starts `processes` workers (default settings each) on a queue
/// pre-filled with `jobs` jobs numbered `0..jobs`, and times them from
/// `go` to the last completion. Checks that every job ran exactly once
/// across the processes; returns the seconds, and how many jobs each
/// process ran.
pub(super) async fn drain(
    ctx: &Ctx,
    system: &Arc<dyn System>,
    processes: usize,
    jobs: usize,
) -> Result<(f64, Vec<usize>)> {
    let mut workers = Workers::start(ctx, system, processes, jobs, None).await?;
    workers.go().await?;
    let start = Instant::now();
    while workers.progress().await? < jobs {}
    let seconds = start.elapsed().as_secs_f64();
    let ran = workers.stop().await?;
    let runs = run_counts(jobs, &ran)?;
    let lost = runs.iter().filter(|&&c| c == 0).count();
    let twice = runs.iter().filter(|&&c| c > 1).count();
    if lost > 0 || twice > 0 {
        bail!("{lost} jobs never ran, {twice} ran more than once");
    }
    Ok((seconds, ran.iter().map(Vec::len).collect()))
}

/// How many times each of the jobs numbered `0..jobs` ran, from what each
/// worker reported it ran.
pub(super) fn run_counts(jobs: usize, ran: &[Vec<u32>]) -> Result<Vec<u32>> {
    let mut runs = vec![0u32; jobs];
    for (i, ran) in ran.iter().enumerate() {
        for &n in ran {
            match runs.get_mut(n as usize) {
                Some(count) => *count += 1,
                None => bail!("worker {i} ran job {n}, which is not one of this run's"),
            }
        }
    }
    Ok(runs)
}

fn parse(index: usize, line: &str) -> Report {
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    match word {
        "ready" => Report::Ready,
        "progress" => match rest.parse() {
            Ok(done) => Report::Progress(index, done),
            Err(_) => Report::Failed(index, format!("bad line {line:?}")),
        },
        "ran" => match rest
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<u32>, _>>()
        {
            Ok(ran) => Report::Ran(index, ran),
            Err(_) => Report::Failed(index, "bad ran line".into()),
        },
        _ => Report::Failed(index, format!("unexpected line {line:?}")),
    }
}

/// The worker side: runs one runner of `kind`, whose jobs' handlers each
/// take `job_duration` (none: jobs that do nothing), until told to stop,
/// and reports on stdout (see the module docs).
pub async fn worker(
    kind: SystemKind,
    config: Config,
    jobs: usize,
    job_duration: Option<Duration>,
) -> Result<()> {
    let system = systems::connect(kind, &config).await?;
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdout = tokio::io::stdout();
    stdout.write_all(b"ready\n").await?;
    stdout.flush().await?;
    match stdin.next_line().await? {
        Some(line) if line == "go" => {}
        other => bail!("expected go, got {other:?}"),
    }
    let recorder = Arc::new(Recorder::new(jobs));
    let options = RunnerOptions {
        job_duration,
        ..RunnerOptions::default_settings()
    };
    let runner = system.start_runner(options, recorder.clone()).await?;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! {
            line = stdin.next_line() => match line? {
                Some(line) if line == "stop" => break,
                Some(other) => bail!("unexpected {other:?}"),
                None => break,
            },
            _ = tick.tick() => {
                stdout.write_all(format!("progress {}\n", recorder.completed_count()).as_bytes()).await?;
                stdout.flush().await?;
            }
        }
    }
    runner.stop().await?;
    recorder.check(true)?;
    let ran: Vec<String> = recorder
        .run_counts()
        .iter()
        .enumerate()
        .flat_map(|(n, &count)| std::iter::repeat_n(n.to_string(), count as usize))
        .collect();
    stdout
        .write_all(format!("ran {}\nend\n", ran.join(",")).as_bytes())
        .await?;
    stdout.flush().await?;
    Ok(())
}
