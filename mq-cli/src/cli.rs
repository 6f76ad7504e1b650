//! The command line's arguments.

use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use mq::{JobState, Uuid};

use crate::output::parse_duration;

/// Inspect and repair the jobs of an mq queue in a PostgreSQL database.
///
/// Every command but `bench` needs the database: `--database-url` or the
/// `DATABASE_URL` environment variable. Output is for people unless
/// `--json` is given; then it is one JSON document on stdout, and errors
/// are one JSON document on stderr. Exit status: 0 on success, 1 when the
/// command failed or did only part of its work, 2 for bad usage.
#[derive(Debug, Parser)]
#[command(name = "mq", version, propagate_version = true)]
pub struct Cli {
    /// The PostgreSQL database holding the queue, as a postgres:// URL
    /// [default: the DATABASE_URL environment variable].
    //
    // Not clap's `env = "DATABASE_URL"`: clap counts a value from the
    // environment as given, and then prints `--database-url <URL>` in the
    // usage line of every usage error, as if it were required. The
    // commands read the variable themselves (`commands::database_url`).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Prints machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Creates or upgrades mq's tables (safe to run at any time).
    Migrate,
    /// Shows the queue: jobs per channel name and state, the age of the
    /// oldest ready job, the running jobs, the ordered channels held by a
    /// failed job.
    Status,
    /// Lists jobs in the order they were made (id order), a page at a
    /// time.
    List(ListArgs),
    /// Shows everything about one job: state, attempts, times, payloads and
    /// its error history.
    Show {
        /// The job's id.
        id: Uuid,
    },
    /// Makes failed jobs ready to run again, with a full set of attempts
    /// (their error history is kept).
    Retry(RetryArgs),
    /// Deletes jobs, in any state (a runner running one cannot complete
    /// it).
    Delete {
        /// The jobs' ids.
        #[arg(required = true)]
        ids: Vec<Uuid>,
    },
    /// Cancels jobs that have not finished: they never run (again), and the
    /// runner of a running one tells it to stop. They are kept, in state
    /// cancelled, until pruned.
    Cancel {
        /// The jobs' ids.
        #[arg(required = true)]
        ids: Vec<Uuid>,
    },
    /// Deletes every job of some channel names, or every job.
    Clear(ClearArgs),
    /// Pauses a channel name (all its arguments) for every runner, until
    /// `mq resume`: its jobs wait, running ones finish. A name with no
    /// jobs yet can be paused.
    Pause {
        /// The channel name.
        channel: String,
    },
    /// Resumes a paused channel name: runners take its jobs again at once.
    Resume {
        /// The channel name.
        channel: String,
    },
    /// Deletes failed and completed jobs that failed or completed long
    /// enough ago.
    Prune(PruneArgs),
    /// Lists the periodic jobs' schedules: name, cadence, next and last
    /// run, and the runner leading each.
    Schedules,
    /// Lists the runners of every process as they last reported (name,
    /// start, last report, jobs running), and the jobs completed, retried
    /// and failed in the last hour.
    Runners,
    /// Lists the channel limits, with their use: jobs running under each,
    /// jobs started in its rate period, ready jobs waiting.
    Limits,
    /// Sets a channel's limit for every runner of every process, or
    /// removes it (`--remove`).
    Limit(LimitArgs),
    /// Serves the web dashboard (overview, channels, jobs, and the actions
    /// of this command line) until interrupted. On an address other than
    /// a loopback one it needs `--auth` or `--read-only`.
    Dashboard(DashboardArgs),
    /// Runs the benchmark (the `mq-bench` binary, if installed beside `mq`
    /// or on the PATH), or tells how to run it. Every argument goes to
    /// mq-bench, `--help` too; it needs its server named and `--yes`.
    // The help flag is mq-bench's: `mq bench --help` must show what the
    // benchmark takes, not this one line.
    #[command(disable_help_flag = true)]
    Bench {
        /// Arguments for mq-bench (`mq bench --help` lists them).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `mq dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// The address to listen on (port 0 picks a free one; the address
    /// served is printed).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub listen: std::net::SocketAddr,
    /// Shows the queue without any action: no retry, delete, cancel,
    /// pause or resume.
    #[arg(long)]
    pub read_only: bool,
    /// Requires HTTP basic authentication with these credentials
    /// [env: MQ_DASHBOARD_AUTH].
    #[arg(
        long,
        env = "MQ_DASHBOARD_AUTH",
        hide_env_values = true,
        value_name = "USER:PASSWORD"
    )]
    pub auth: Option<String>,
}

/// `mq list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only jobs of this channel name (with any channel arguments).
    #[arg(long, value_name = "NAME")]
    pub channel: Option<String>,
    /// Only jobs in this state.
    #[arg(long, value_enum)]
    pub state: Option<StateArg>,
    /// At most this many jobs.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Continues after this cursor (printed at the end of a full page).
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<mq::admin::JobCursor>,
}

/// `mq retry`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["ids", "failed"])))]
pub struct RetryArgs {
    /// The failed jobs to retry.
    pub ids: Vec<Uuid>,
    /// Retries every failed job (of `--channel`, if given).
    #[arg(long, conflicts_with = "ids")]
    pub failed: bool,
    /// With `--failed`: only the jobs of this channel name.
    #[arg(long, value_name = "NAME", requires = "failed")]
    pub channel: Option<String>,
}

/// `mq clear`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("which").required(true).args(["channels", "all"])))]
pub struct ClearArgs {
    /// Deletes every job of this channel name, in any state (repeatable).
    #[arg(long = "channel", value_name = "NAME")]
    pub channels: Vec<String>,
    /// Deletes every job of every channel; needs `--yes`.
    #[arg(long, conflicts_with = "channels")]
    pub all: bool,
    /// Confirms `--all`.
    #[arg(long)]
    pub yes: bool,
}

/// `mq limit`.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// The channel name.
    pub channel: String,
    /// At most this many of its jobs running at once.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<u32>,
    /// At most this many of its jobs starting in any window of `--per`.
    #[arg(long, value_name = "N", requires = "per")]
    pub rate: Option<u32>,
    /// The rate's window: a number and a unit (s, m, h, d, w), as `1s`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "rate")]
    pub per: Option<Duration>,
    /// Apply the limit to each of the channel's arguments apart.
    #[arg(long)]
    pub per_args: bool,
    /// Remove the channel's limit instead.
    #[arg(long, conflicts_with_all = ["concurrency", "rate", "per", "per_args"])]
    pub remove: bool,
}

/// `mq prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// How long ago the jobs failed or completed, at least: a number and a
    /// unit (s, m, h, d, w), or several: `7d`, `12h`, `1h30m`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: Duration,
    /// Only jobs in this state (default: failed, completed and cancelled).
    #[arg(long, value_enum)]
    pub state: Option<FinishedState>,
}

/// A job state, as the command line spells it.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum StateArg {
    /// Spawned with a commit interval, not committed yet.
    Uncommitted,
    /// Ordered, waiting for the jobs before it on its channel.
    Blocked,
    /// Waiting for its time (delayed, or backing off before a retry).
    Scheduled,
    /// Ready to run.
    Ready,
    /// Held by a runner.
    Running,
    /// Out of attempts.
    Failed,
    /// Completed, and kept.
    Completed,
    /// Cancelled before it finished.
    Cancelled,
}

impl From<StateArg> for JobState {
    fn from(state: StateArg) -> Self {
        match state {
            StateArg::Uncommitted => JobState::Uncommitted,
            StateArg::Blocked => JobState::Blocked,
            StateArg::Scheduled => JobState::Scheduled,
            StateArg::Ready => JobState::Ready,
            StateArg::Running => JobState::Running,
            StateArg::Failed => JobState::Failed,
            StateArg::Completed => JobState::Completed,
            StateArg::Cancelled => JobState::Cancelled,
        }
    }
}

/// The states `mq prune` deletes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum FinishedState {
    /// Out of attempts.
    Failed,
    /// Completed, and kept.
    Completed,
    /// Cancelled.
    Cancelled,
}

impl From<FinishedState> for JobState {
    fn from(state: FinishedState) -> Self {
        match state {
            FinishedState::Failed => JobState::Failed,
            FinishedState::Completed => JobState::Completed,
            FinishedState::Cancelled => JobState::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn retry_takes_ids_or_failed_not_both() {
        let id = Uuid::nil().to_string();
        assert!(Cli::try_parse_from(["mq", "retry", &id]).is_ok());
        assert!(Cli::try_parse_from(["mq", "retry", "--failed", "--channel", "c"]).is_ok());
        assert!(Cli::try_parse_from(["mq", "retry"]).is_err());
        assert!(Cli::try_parse_from(["mq", "retry", &id, "--failed"]).is_err());
        assert!(Cli::try_parse_from(["mq", "retry", "--channel", "c"]).is_err());
    }

    #[test]
    fn clear_takes_channels_or_all() {
        assert!(Cli::try_parse_from(["mq", "clear", "--channel", "a", "--channel", "b"]).is_ok());
        assert!(Cli::try_parse_from(["mq", "clear", "--all", "--yes"]).is_ok());
        assert!(Cli::try_parse_from(["mq", "clear"]).is_err());
        assert!(Cli::try_parse_from(["mq", "clear", "--all", "--channel", "a"]).is_err());
    }
}
