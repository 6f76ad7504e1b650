//! The scenarios of the reliability suite, and the checks they share.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::ValueEnum;

use mq::Uuid;

use crate::client::Client;
use crate::db::{Audit, Interrupted, ScenarioDb};
use crate::report::{Report, count, secs};
use crate::server::Server;
use crate::task::{Task, builder, probe_channel};

pub mod bad_input;
pub mod crash;
pub mod limits;
pub mod listen;
pub mod migrate;
pub mod ordered;
pub mod periodic;
pub mod pool;
pub mod restart;
pub mod soak;

/// A scenario, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Workers killed with SIGKILL mid-job.
    Crash,
    /// PostgreSQL restarted (fast and immediate) under load.
    Restart,
    /// LISTEN connections terminated server-side.
    Listen,
    /// A pool of 2 connections under 50 jobs holding transactions.
    Pool,
    /// Ordered channels while the worker holding the head job dies.
    Ordered,
    /// Bad payloads, names and channels against live workers.
    BadInput,
    /// Eight processes migrating one database at once.
    Migrate,
    /// Steady load with periodic kills, watching for growth.
    Soak,
    /// A one-second schedule on four processes, its leader killed again
    /// and again.
    Periodic,
    /// Four processes drain two limited channels beside an unlimited one,
    /// one of them killed mid-drain.
    Limits,
}

impl Scenario {
    /// Every scenario, in the order they run and are reported.
    pub const ALL: [Scenario; 10] = [
        Scenario::Crash,
        Scenario::Restart,
        Scenario::Listen,
        Scenario::Pool,
        Scenario::Ordered,
        Scenario::BadInput,
        Scenario::Migrate,
        Scenario::Soak,
        Scenario::Periodic,
        Scenario::Limits,
    ];

    /// Runs it.
    pub async fn run(self, ctx: &Ctx) -> Result<Report> {
        match self {
            Scenario::Crash => crash::run(ctx).await,
            Scenario::Restart => restart::run(ctx).await,
            Scenario::Listen => listen::run(ctx).await,
            Scenario::Pool => pool::run(ctx).await,
            Scenario::Ordered => ordered::run(ctx).await,
            Scenario::BadInput => bad_input::run(ctx).await,
            Scenario::Migrate => migrate::run(ctx).await,
            Scenario::Soak => soak::run(ctx).await,
            Scenario::Periodic => periodic::run(ctx).await,
            Scenario::Limits => limits::run(ctx).await,
        }
    }

    /// Its title in the report.
    pub fn title(self) -> &'static str {
        match self {
            Scenario::Crash => "1. Worker crashes",
            Scenario::Restart => "2. Database restarts",
            Scenario::Listen => "3. Lost notifications",
            Scenario::Pool => "4. Pool exhaustion and slow queries",
            Scenario::Ordered => "5. Ordered channels under crashes",
            Scenario::BadInput => "6a. Bad input against live workers",
            Scenario::Migrate => "6b. Eight processes migrating at once",
            Scenario::Soak => "7. Soak",
            Scenario::Periodic => "8. Periodic jobs under leader kills",
            Scenario::Limits => "9. Limits across processes",
        }
    }
}

/// What every scenario gets.
pub struct Ctx {
    /// The short variant (CI) rather than the full one.
    pub short: bool,
    /// How long the soak runs.
    pub soak: Duration,
    /// Where the worker processes write their logs.
    pub log_dir: PathBuf,
    /// Control over the server, when the harness has it.
    pub server: Option<Server>,
}

impl Ctx {
    /// `short` in the short variant, else `full`.
    pub fn pick<T>(&self, short: T, full: T) -> T {
        if self.short { short } else { full }
    }
}

/// Records the audit's figures and the checks every scenario makes.
pub fn audit_checks(report: &mut Report, audit: &Audit) {
    report.fact(
        "jobs spawned (spawn returned an id)",
        count(audit.acknowledged as i64),
    );
    report.fact("jobs completed", count(audit.completed as i64));
    report.fact("attempts started", count(audit.attempts));
    report.fact("lost", count(audit.lost as i64));
    report.fact("completed more than once", count(audit.duplicated as i64));
    report.check(
        audit.lost == 0,
        format!(
            "every spawned job ran to completion ({} of {} lost)",
            count(audit.lost as i64),
            count(audit.acknowledged as i64)
        ),
    );
    report.check(
        audit.duplicated == 0,
        format!(
            "every side effect written with complete_with_transaction exists exactly once ({} jobs with more)",
            count(audit.duplicated as i64)
        ),
    );
    report.check(
        audit.reruns == 0,
        format!(
            "no job started again once its completion was written ({} such starts)",
            count(audit.reruns)
        ),
    );
    report.check(
        audit.left_in_queue == 0,
        format!(
            "the queue is empty at the end ({} rows left)",
            count(audit.left_in_queue)
        ),
    );
}

/// Records what became of the attempts that kills cut short, and checks
/// that each came back after its lease, not before, and not much later.
pub fn interrupted_checks(
    report: &mut Report,
    interrupted: &[Interrupted],
    lease: Duration,
    poll: Duration,
) {
    let latest = restart_checks(report, interrupted);
    if let Some(latest) = latest {
        let bound = lease + poll + Duration::from_secs(5);
        report.check(
            latest <= bound.as_secs_f64(),
            format!(
                "every job cut short started again within lease + poll interval + 5 s of the kill ({})",
                secs(bound)
            ),
        );
    }
}

/// [`interrupted_checks`] without the bound on how long after the kill a
/// job cut short starts again, for scenarios where it waits its turn
/// behind a backlog (it goes back to the end of its channel's queue);
/// returns the longest time from a kill to a restart, in seconds.
pub fn restart_checks(report: &mut Report, interrupted: &[Interrupted]) -> Option<f64> {
    let came_back: Vec<&Interrupted> = interrupted
        .iter()
        .filter(|i| i.restarted_after_lease.is_some())
        .collect();
    report.fact(
        "attempts cut short by a kill",
        count(interrupted.len() as i64),
    );
    report.check(
        !interrupted.is_empty(),
        "kills landed mid-job (else this scenario proves nothing)",
    );
    report.check(
        came_back.len() == interrupted.len(),
        format!(
            "every job cut short started again ({} of {})",
            came_back.len(),
            interrupted.len()
        ),
    );
    let early: Vec<f64> = came_back
        .iter()
        .filter_map(|i| i.restarted_after_lease)
        .filter(|&d| d < 0.0)
        .collect();
    let earliest = came_back
        .iter()
        .filter_map(|i| i.restarted_after_lease)
        .fold(f64::INFINITY, f64::min);
    if earliest.is_finite() {
        report.fact(
            "earliest restart, after the lease it held",
            format!("{earliest:+.3} s"),
        );
    }
    report.check(
        early.is_empty(),
        format!(
            "no job cut short started again before its lease ran out ({} did)",
            early.len()
        ),
    );
    let mut after_kill: Vec<f64> = came_back
        .iter()
        .filter_map(|i| i.restarted_after_kill)
        .collect();
    after_kill.sort_by(f64::total_cmp);
    let (first, last) = (after_kill.first()?, after_kill.last()?);
    let median = after_kill[after_kill.len() / 2];
    report.fact(
        "recovery: kill to the job's next start (min / median / max)",
        format!("{first:.2} / {median:.2} / {last:.2} s"),
    );
    Some(*last)
}

/// How long a probe may take to start before it counts as never started.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Spawns a job that only worker `incarnation` takes, and waits for it to
/// start: returns its id and its spawn-to-start latency (`None` if it did
/// not start within [`PROBE_TIMEOUT`]).
pub async fn probe(
    db: &ScenarioDb,
    client: &Client,
    incarnation: i32,
    n: i64,
) -> Result<(Uuid, Option<Duration>)> {
    let task = Task::new(n, 0);
    let probe = builder(&probe_channel(incarnation), "", false, &task)?;
    let id = client.spawn(&probe).await?;
    Ok((id, db.wait_started(id, PROBE_TIMEOUT).await?))
}

/// Runs `scenario`, timing it; an error fails it.
pub async fn run_one(scenario: Scenario, ctx: &Ctx) -> Report {
    let started = Instant::now();
    let mut report = match scenario.run(ctx).await {
        Ok(report) => report,
        Err(error) => {
            let mut report =
                Report::new(scenario.title(), "The scenario could not run to the end.");
            report.check(false, format!("the scenario ran without error: {error:#}"));
            report
        }
    };
    report.elapsed = started.elapsed();
    report
}
