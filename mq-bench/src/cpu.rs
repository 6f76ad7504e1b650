//! CPU time spent by the benchmark (its own process and the processes it
//! started, such as another queue's workers) and by the PostgreSQL server,
//! read from /proc: what tells whether a figure is limited by the runner,
//! by the server, or by neither (then by round trips).

use std::time::Instant;

/// Linux reports process times in /proc in units of USER_HZ, which is 100
/// on every architecture it supports for user space.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds of `pid` (user and system), if it exists; with
/// `reaped_children`, also those of its children that have ended and been
/// waited for (a process that ends moves its time into its parent's).
fn cpu_seconds(pid: u32, reaped_children: bool) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, in parentheses, may hold spaces: count fields
    // after its closing parenthesis (state is field 3; utime 14, stime 15,
    // and the reaped children's cutime 16, cstime 17).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
    let mut total = ticks(14)? + ticks(15)?;
    if reaped_children {
        total += ticks(16)? + ticks(17)?;
    }
    Some(total / TICKS_PER_SECOND)
}

/// The parent of `pid`.
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// CPU seconds of `root` and its direct children (PostgreSQL's backends
/// are children of the postmaster; the benchmark's workers of it), those
/// that have ended included: a Node runner stopped, or a backend whose
/// connection closed, before the meter stops.
fn tree_seconds(root: u32) -> Option<f64> {
    let own = cpu_seconds(root, true)?;
    let children: f64 = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| parent(pid) == Some(root))
        .filter_map(|pid| cpu_seconds(pid, false))
        .sum();
    Some(own + children)
}

/// The postmaster of the server `pool` talks to, if it runs on this
/// machine (else the server's CPU is not measured).
pub async fn server_pid(pool: &sqlx::PgPool) -> Option<u32> {
    let backend: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await
        .ok()?;
    let postmaster = parent(u32::try_from(backend).ok()?)?;
    // A backend of a server elsewhere would not be a process here; a
    // same-numbered process of ours would not be named postgres.
    let comm = std::fs::read_to_string(format!("/proc/{postmaster}/comm")).ok()?;
    comm.trim().starts_with("postgres").then_some(postmaster)
}

/// CPU used between [`CpuMeter::start`] and [`CpuMeter::stop`], in cores
/// (CPU seconds per second of wall time: 1.0 is one core kept busy).
#[derive(Debug, Clone, Copy)]
pub struct CpuUse {
    /// The benchmark process and its direct children.
    pub bench: Option<f64>,
    /// The PostgreSQL server (postmaster and its direct children).
    pub server: Option<f64>,
}

/// Measures [`CpuUse`] over an interval.
pub struct CpuMeter {
    server: Option<u32>,
    bench_start: Option<f64>,
    server_start: Option<f64>,
    at: Instant,
}

impl CpuMeter {
    /// Starts measuring; `server` is the postmaster's pid ([`server_pid`]).
    pub fn start(server: Option<u32>) -> Self {
        CpuMeter {
            server,
            bench_start: tree_seconds(std::process::id()),
            server_start: server.and_then(tree_seconds),
            at: Instant::now(),
        }
    }

    /// The CPU used since the start, in cores.
    pub fn stop(self) -> CpuUse {
        let wall = self.at.elapsed().as_secs_f64().max(1e-9);
        let delta = |start: Option<f64>, end: Option<f64>| Some((end? - start?).max(0.0) / wall);
        CpuUse {
            bench: delta(self.bench_start, tree_seconds(std::process::id())),
            server: delta(self.server_start, self.server.and_then(tree_seconds)),
        }
    }
}
