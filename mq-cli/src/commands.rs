//! The commands, over `mq::admin` and the sqlx driver.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use mq::admin::{self, JobQuery, QueueStats};
use mq::{JobState, Uuid};
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::cli::{ClearArgs, Cli, Command, LimitArgs, ListArgs, PruneArgs, RetryArgs};
use crate::error::{CliError, LeftAlone, UrlSource, redact};
use crate::output::{self, Report, cell, count, table};

/// What a command did: its report, and possibly a problem to report after
/// it (some jobs were left alone), or the exit status of a program it ran.
pub struct Done {
    pub report: Report,
    pub problem: Option<CliError>,
    pub exit_code: u8,
}

impl From<Report> for Done {
    fn from(report: Report) -> Self {
        Self {
            report,
            problem: None,
            exit_code: 0,
        }
    }
}

/// The CLI's connection as mq's calls take it: run as a transaction pooler
/// (PgBouncer's `pool_mode = transaction`) requires, whether or not one is
/// in between (see [`mq::TransactionPooled`]). A command makes a few
/// calls, so statements parsed for each use cost nothing that matters, and
/// `DATABASE_URL` may name a pooler.
fn pooled(conn: &mut PgConnection) -> mq::TransactionPooled<&mut PgConnection> {
    mq::TransactionPooled(conn)
}

/// How long to wait for the database to answer a connection.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How an mq call's error is told: as a failure of `command`, the command
/// the user ran.
fn failed(command: &'static str) -> impl FnOnce(mq::Error) -> CliError {
    move |source| CliError::Failed { command, source }
}

/// The database URL: `--database-url`, else `DATABASE_URL` (an empty one
/// counts as unset); checked to be a PostgreSQL URL before anything
/// connects with it, as sqlx would try a `mysql://` URL's host as a
/// PostgreSQL server and fail with a misleading "connection refused".
fn database_url(flag: Option<String>) -> Result<String, CliError> {
    let (url, from) = match flag {
        Some(url) if !url.is_empty() => (url, UrlSource::Flag),
        Some(_) => return Err(CliError::NoDatabase),
        None => match std::env::var_os("DATABASE_URL") {
            Some(url) if !url.is_empty() => (url.to_string_lossy().into_owned(), UrlSource::Env),
            _ => return Err(CliError::NoDatabase),
        },
    };
    let postgres = url.split_once("://").is_some_and(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql")
    });
    if !postgres {
        return Err(CliError::NotPostgres {
            from,
            url: redact(&url),
        });
    }
    Ok(url)
}

pub async fn run(cli: Cli) -> Result<Done, CliError> {
    if let Command::Bench { args } = &cli.command {
        return bench(args, cli.database_url.as_deref());
    }
    let url = database_url(cli.database_url)?;
    if let Command::Dashboard(args) = cli.command {
        return crate::dashboard::serve(&url, args).await.map(Done::from);
    }
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&url))
        .await
        .map_err(|_| CliError::ConnectTimeout {
            url: redact(&url),
            after: CONNECT_TIMEOUT,
        })?
        .map_err(|source| CliError::Connect {
            url: redact(&url),
            source,
        })?;
    let conn = &mut conn;
    match cli.command {
        Command::Migrate => migrate(conn).await.map(Done::from),
        Command::Status => status(conn).await.map(Done::from),
        Command::List(args) => list(conn, args).await.map(Done::from),
        Command::Show { id } => show(conn, id).await.map(Done::from),
        Command::Retry(args) => retry(conn, args).await,
        Command::Delete { ids } => delete(conn, &ids).await,
        Command::Clear(args) => clear(conn, args).await.map(Done::from),
        Command::Cancel { ids } => cancel(conn, &ids).await,
        Command::Pause { channel } => pause(conn, &channel).await.map(Done::from),
        Command::Resume { channel } => resume(conn, &channel).await.map(Done::from),
        Command::Prune(args) => prune(conn, args).await.map(Done::from),
        Command::Schedules => schedules(conn).await.map(Done::from),
        Command::Runners => runners(conn).await.map(Done::from),
        Command::Limits => limits(conn).await.map(Done::from),
        Command::Limit(args) => limit(conn, args).await.map(Done::from),
        Command::Bench { .. } | Command::Dashboard(_) => unreachable!("handled above"),
    }
}

async fn migrate(conn: &mut PgConnection) -> Result<Report, CliError> {
    mq::migrate(pooled(conn)).await.map_err(failed("migrate"))?;
    Ok(Report {
        text: "mq's tables are up to date\n".to_owned(),
        json: json!({ "migrated": true }),
    })
}

async fn status(conn: &mut PgConnection) -> Result<Report, CliError> {
    let stats = admin::stats(pooled(conn)).await.map_err(failed("status"))?;
    let limits = admin::limits(pooled(conn))
        .await
        .map_err(failed("status"))?;
    let mut report = status_report(&stats);
    if !limits.is_empty() {
        let shown: Vec<String> = limits
            .iter()
            .map(|info| {
                format!(
                    "{} ({})",
                    cell(info.limit.channel_name(), 40),
                    limit_use(info)
                )
            })
            .collect();
        report.text.push_str(&format!(
            "limited channels: {}; `mq limits` shows them\n",
            shown.join(", ")
        ));
        report.json["limits"] = limits_json(&limits);
    }
    Ok(report)
}

/// A limit and its use, for people: `2/3 running, 40 waiting`.
fn limit_use(info: &admin::LimitInfo) -> String {
    let mut parts = Vec::new();
    if let Some(concurrency) = info.limit.concurrency() {
        parts.push(format!("{}/{concurrency} running", info.running));
    }
    if let Some(rate) = info.limit.rate() {
        parts.push(format!(
            "{}/{} started per {}",
            info.recent_starts,
            rate.count,
            output::duration(rate.period)
        ));
    }
    parts.push(format!("{} waiting", info.waiting));
    let scope = if info.limit.per_args() {
        ", per args"
    } else {
        ""
    };
    format!("{}{scope}", parts.join(", "))
}

fn limits_json(limits: &[admin::LimitInfo]) -> Value {
    Value::Array(
        limits
            .iter()
            .map(|info| {
                json!({
                    "channel_name": info.limit.channel_name(),
                    "per_args": info.limit.per_args(),
                    "concurrency": info.limit.concurrency(),
                    "rate": info.limit.rate().map(|rate| json!({
                        "count": rate.count,
                        "period_secs": rate.period.as_secs_f64(),
                    })),
                    "running": info.running,
                    "recent_starts": info.recent_starts,
                    "waiting": info.waiting,
                    "updated_at": output::time_json(info.updated_at),
                })
            })
            .collect(),
    )
}

async fn limits(conn: &mut PgConnection) -> Result<Report, CliError> {
    let limits = admin::limits(pooled(conn))
        .await
        .map_err(failed("limits"))?;
    let json = json!({ "limits": limits_json(&limits) });
    if limits.is_empty() {
        return Ok(Report {
            text: "no limits\n".to_owned(),
            json,
        });
    }
    let rows: Vec<Vec<String>> = limits
        .iter()
        .map(|info| {
            let limit = &info.limit;
            vec![
                cell(limit.channel_name(), 40),
                if limit.per_args() {
                    "each args"
                } else {
                    "channel"
                }
                .to_owned(),
                limit
                    .concurrency()
                    .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                limit.rate().map_or_else(
                    || "-".to_owned(),
                    |rate| format!("{}/{}", rate.count, output::duration(rate.period)),
                ),
                info.running.to_string(),
                info.recent_starts.to_string(),
                info.waiting.to_string(),
            ]
        })
        .collect();
    Ok(Report {
        text: table(
            &[
                "CHANNEL",
                "SCOPE",
                "CONCURRENCY",
                "RATE",
                "RUNNING",
                "RECENT STARTS",
                "WAITING",
            ],
            &rows,
        ),
        json,
    })
}

async fn limit(conn: &mut PgConnection, args: LimitArgs) -> Result<Report, CliError> {
    let shown = cell(&args.channel, 80);
    if args.remove {
        let removed = admin::remove_limit(pooled(conn), &args.channel)
            .await
            .map_err(failed("limit"))?;
        let text = if removed {
            format!("removed the limit of channel {shown}\n")
        } else {
            format!("channel {shown} had no limit\n")
        };
        return Ok(Report {
            text,
            json: json!({ "channel_name": args.channel, "removed": removed }),
        });
    }
    let mut limit = admin::ChannelLimit::new(args.channel.clone()).set_per_args(args.per_args);
    if let Some(concurrency) = args.concurrency {
        limit = limit
            .set_concurrency(concurrency)
            .map_err(failed("limit"))?;
    }
    if let (Some(count), Some(period)) = (args.rate, args.per) {
        limit = limit.set_rate(count, period).map_err(failed("limit"))?;
    }
    let changed = admin::set_limit(pooled(conn), &limit)
        .await
        .map_err(failed("limit"))?;
    Ok(Report {
        text: format!(
            "{} the limit of channel {shown}\n",
            if changed { "set" } else { "unchanged:" }
        ),
        json: json!({ "channel_name": args.channel, "changed": changed }),
    })
}

fn status_report(stats: &QueueStats) -> Report {
    // Channel name -> its counts per state, its failed ordered jobs, and
    // its oldest ready job.
    struct Channel {
        counts: BTreeMap<JobState, u64>,
        blocked: u64,
        oldest_ready: Option<Duration>,
    }
    let mut channels: BTreeMap<&str, Channel> = BTreeMap::new();
    for row in &stats.counts {
        let channel = channels
            .entry(row.channel_name.as_str())
            .or_insert_with(|| Channel {
                counts: BTreeMap::new(),
                blocked: 0,
                oldest_ready: None,
            });
        *channel.counts.entry(row.state).or_default() += row.count;
        if row.state == JobState::Failed {
            channel.blocked += row.ordered;
        }
        channel.oldest_ready = channel.oldest_ready.max(row.oldest_ready_age);
    }
    let counts_json = |counts: &dyn Fn(JobState) -> u64| -> Value {
        JobState::ALL
            .iter()
            .map(|state| (state.as_str().to_owned(), json!(counts(*state))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let blocked: Vec<&str> = channels
        .iter()
        .filter(|(_, channel)| channel.blocked > 0)
        .map(|(name, _)| *name)
        .collect();
    let json = json!({
        "channels": channels.iter().map(|(name, channel)| json!({
            "channel_name": name,
            "counts": counts_json(&|state| channel.counts.get(&state).copied().unwrap_or(0)),
            "blocked_ordered_channels": channel.blocked,
            "oldest_ready_age_secs": channel.oldest_ready.map(|age| age.as_secs_f64()),
            "paused": stats.is_paused(name),
        })).collect::<Vec<_>>(),
        "paused": stats.paused.iter().map(|pause| json!({
            "channel_name": pause.channel_name,
            "paused_at": output::time_json(pause.paused_at),
        })).collect::<Vec<_>>(),
        "totals": counts_json(&|state| stats.total(state)),
        "running": stats.running(),
        "oldest_ready_age_secs": stats.oldest_ready_age().map(|age| age.as_secs_f64()),
        "blocked_ordered_channels": stats.blocked_ordered_channels(),
    });

    let paused_line = (!stats.paused.is_empty()).then(|| {
        format!(
            "paused channels: {}; `mq resume NAME` resumes one\n",
            stats
                .paused
                .iter()
                .map(|pause| cell(&pause.channel_name, 40))
                .collect::<Vec<_>>()
                .join(", "),
        )
    });
    if channels.is_empty() {
        return Report {
            text: format!("no jobs\n{}", paused_line.unwrap_or_default()),
            json,
        };
    }
    let mut headers = vec!["CHANNEL"];
    headers.extend(JobState::ALL.iter().map(|state| match state {
        JobState::Uncommitted => "UNCOMMITTED",
        JobState::Blocked => "BLOCKED",
        JobState::Scheduled => "SCHEDULED",
        JobState::Ready => "READY",
        JobState::Running => "RUNNING",
        JobState::Failed => "FAILED",
        JobState::Completed => "COMPLETED",
        _ => "CANCELLED",
    }));
    headers.push("OLDEST READY");
    let age = |age: Option<Duration>| age.map_or_else(|| "-".to_owned(), output::duration);
    let mut rows: Vec<Vec<String>> = channels
        .iter()
        .map(|(name, channel)| {
            let mut row = vec![if stats.is_paused(name) {
                format!("{} (paused)", cell(name, 40))
            } else {
                cell(name, 40)
            }];
            row.extend(
                JobState::ALL
                    .iter()
                    .map(|state| channel.counts.get(state).copied().unwrap_or(0).to_string()),
            );
            row.push(age(channel.oldest_ready));
            row
        })
        .collect();
    if channels.len() > 1 {
        let mut total = vec!["(all)".to_owned()];
        total.extend(
            JobState::ALL
                .iter()
                .map(|state| stats.total(*state).to_string()),
        );
        total.push(age(stats.oldest_ready_age()));
        rows.push(total);
    }
    let mut text = table(&headers, &rows);
    text.push_str(&format!(
        "\nrunning: {}, oldest ready job: {}\n",
        stats.running(),
        stats
            .oldest_ready_age()
            .map_or_else(|| "none ready".to_owned(), output::duration),
    ));
    if !blocked.is_empty() {
        text.push_str(&format!(
            "ordered channels held by a failed job: {} (in {}); `mq list --state failed` shows them, `mq retry` or `mq delete` frees them\n",
            stats.blocked_ordered_channels(),
            blocked
                .iter()
                .map(|name| cell(name, 40))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    text.push_str(&paused_line.unwrap_or_default());
    Report { text, json }
}

async fn pause(conn: &mut PgConnection, channel: &str) -> Result<Report, CliError> {
    let newly = admin::pause(pooled(conn), channel)
        .await
        .map_err(failed("pause"))?;
    let shown = cell(channel, 80);
    Ok(Report {
        text: if newly {
            format!("paused channel {shown}: runners leave its jobs until `mq resume`\n")
        } else {
            format!("channel {shown} was already paused\n")
        },
        json: json!({ "channel_name": channel, "paused": true, "changed": newly }),
    })
}

async fn resume(conn: &mut PgConnection, channel: &str) -> Result<Report, CliError> {
    admin::resume(pooled(conn), channel)
        .await
        .map_err(failed("resume"))?;
    Ok(Report {
        text: format!("resumed channel {}\n", cell(channel, 80)),
        json: json!({ "channel_name": channel, "paused": false, "changed": true }),
    })
}

async fn schedules(conn: &mut PgConnection) -> Result<Report, CliError> {
    let schedules = admin::schedules(pooled(conn))
        .await
        .map_err(failed("schedules"))?;
    Ok(schedules_report(&schedules))
}

async fn runners(conn: &mut PgConnection) -> Result<Report, CliError> {
    let runners = admin::runners(pooled(conn))
        .await
        .map_err(failed("runners"))?;
    let hour = admin::throughput(pooled(conn), Duration::from_secs(3600))
        .await
        .map_err(failed("runners"))?;
    Ok(runners_report(&runners, &hour))
}

fn runners_report(runners: &[admin::RunnerInfo], hour: &[admin::MinuteCount]) -> Report {
    let (completed, retried, failed) = hour.iter().fold((0, 0, 0), |(c, r, f), count| {
        (c + count.completed, r + count.retried, f + count.failed)
    });
    let json = json!({
        "runners": runners.iter().map(|r| json!({
            "id": r.id,
            "name": r.name,
            "started_at": output::time_json(r.started_at),
            "seen_at": output::time_json(r.seen_at),
            "running": r.running,
            "max_concurrency": r.max_concurrency,
        })).collect::<Vec<_>>(),
        "last_hour": { "completed": completed, "retried": retried, "failed": failed },
    });
    let totals = format!("last hour: {completed} completed, {retried} retried, {failed} failed\n");
    if runners.is_empty() {
        return Report {
            text: format!("no runners\n{totals}"),
            json,
        };
    }
    let rows: Vec<Vec<String>> = runners
        .iter()
        .map(|r| {
            vec![
                cell(&r.name, 40),
                r.id.to_string(),
                output::time(r.started_at),
                output::time(r.seen_at),
                format!("{}/{}", r.running, r.max_concurrency),
            ]
        })
        .collect();
    Report {
        text: table(&["RUNNER", "ID", "STARTED", "LAST SEEN", "RUNNING"], &rows) + &totals,
        json,
    }
}

fn schedules_report(schedules: &[admin::ScheduleInfo]) -> Report {
    let json = json!({
        "schedules": schedules.iter().map(|s| json!({
            "name": s.name,
            "job_name": s.job_name,
            "expression": s.expression,
            "time_zone": s.time_zone,
            "missed": s.missed,
            "next_run_at": output::time_json(s.next_run_at),
            "last_run_at": s.last_run_at.map(output::time_json),
            "last_job": s.last_job,
            "leader": s.leader,
            "leader_until": s.leader_until.map(output::time_json),
            "declared_at": output::time_json(s.declared_at),
            "defined_at": s.defined_at.map(output::time_json),
        })).collect::<Vec<_>>(),
    });
    if schedules.is_empty() {
        return Report {
            text: "no schedules\n".to_owned(),
            json,
        };
    }
    let rows: Vec<Vec<String>> = schedules
        .iter()
        .map(|s| {
            let expression = match &s.time_zone {
                Some(zone) => format!("{} ({zone})", s.expression),
                None => s.expression.clone(),
            };
            vec![
                cell(&s.name, 40),
                cell(&s.job_name, 40),
                cell(&expression, 50),
                output::time(s.next_run_at),
                s.last_run_at.map_or_else(|| "-".to_owned(), output::time),
                s.defined_at.map_or_else(|| "-".to_owned(), output::time),
                s.leader
                    .map_or_else(|| "none".to_owned(), |leader| leader.to_string()),
            ]
        })
        .collect();
    Report {
        text: table(
            &[
                "SCHEDULE",
                "JOB",
                "EXPRESSION",
                "NEXT RUN",
                "LAST RUN",
                "IN FORCE SINCE",
                "LEADER",
            ],
            &rows,
        ),
        json,
    }
}

async fn list(conn: &mut PgConnection, args: ListArgs) -> Result<Report, CliError> {
    let mut query = JobQuery::new();
    query.set_limit(args.limit);
    if let Some(channel) = &args.channel {
        query.set_channel_name(channel.clone());
    }
    if let Some(state) = args.state {
        query.set_state(state.into());
    }
    if let Some(after) = args.after {
        query.set_after(after);
    }
    let page = admin::list(pooled(conn), &query)
        .await
        .map_err(failed("list"))?;
    let json = json!({
        "jobs": page.jobs.iter().map(output::summary_json).collect::<Vec<_>>(),
        "next": page.next.map(|cursor| cursor.to_string()),
    });
    if page.jobs.is_empty() {
        return Ok(Report {
            text: "no jobs\n".to_owned(),
            json,
        });
    }
    let rows: Vec<Vec<String>> = page
        .jobs
        .iter()
        .map(|job| {
            vec![
                job.id.to_string(),
                job.state.to_string(),
                cell(&job.name, 30),
                output::channel(&job.channel_name, &job.channel_args),
                output::attempts(job.attempt, job.retries),
                output::time(job.run_at),
                job.last_error
                    .as_ref()
                    .map_or_else(String::new, |e| cell(&e.error, 60)),
            ]
        })
        .collect();
    let mut text = table(
        &[
            "ID",
            "STATE",
            "NAME",
            "CHANNEL",
            "ATTEMPT",
            "RUN AT",
            "LAST ERROR",
        ],
        &rows,
    );
    if let Some(next) = page.next {
        text.push_str(&format!(
            "\nmore jobs follow: run the same command with --after {next}\n"
        ));
    }
    Ok(Report { text, json })
}

/// The retry backoff as `mq show` prints it: "1.0s", or "1.0s, at most 1m,
/// jittered" with a cap and jitter.
fn retry_backoff(job: &mq::admin::JobInfo) -> String {
    let mut text = output::duration(job.retry_backoff);
    if let Some(max) = job.retry_backoff_max {
        text.push_str(&format!(", at most {}", output::duration(max)));
    }
    if job.retry_jitter {
        text.push_str(", jittered");
    }
    text
}

async fn show(conn: &mut PgConnection, id: Uuid) -> Result<Report, CliError> {
    let job = admin::get(pooled(conn), id)
        .await
        .map_err(failed("show"))?
        .ok_or(CliError::JobNotFound(id))?;
    let mut lines: Vec<(&str, String)> = vec![
        ("id", job.id.to_string()),
        ("state", job.state.to_string()),
        ("name", cell(&job.name, 200)),
        ("channel name", cell(&job.channel_name, 200)),
        ("channel args", cell(&job.channel_args, 200)),
        (
            "ordered",
            match (job.ordered, job.ordered_ahead) {
                (false, _) => "no".to_owned(),
                (true, None) => "yes".to_owned(),
                (true, Some(0)) => "yes, first in its channel".to_owned(),
                (true, Some(ahead)) => format!(
                    "yes, {} ahead of it",
                    count(ahead, "ordered job", "ordered jobs")
                ),
            },
        ),
        ("priority", job.priority.to_string()),
        (
            "unique key",
            match (&job.unique_key, job.unique_for) {
                (None, _) => "none".to_owned(),
                (Some(key), None) => cell(key, 200),
                (Some(key), Some(period)) => format!(
                    "{}, held {} after completion",
                    cell(key, 200),
                    output::duration(period)
                ),
            },
        ),
        (
            "attempt",
            format!(
                "{} of {} ({})",
                job.attempt,
                i64::from(job.retries) + 1,
                count(job.retries.max(0).unsigned_abs(), "retry", "retries")
            ),
        ),
        ("retry backoff", retry_backoff(&job)),
        (
            "timeout",
            job.timeout
                .map_or_else(|| "none".to_owned(), output::duration),
        ),
    ];
    let run_at = match job.state {
        JobState::Scheduled => "due at",
        JobState::Ready => "ready since",
        JobState::Running => "lease until",
        JobState::Failed => "failed at",
        JobState::Completed => "completed at",
        JobState::Cancelled => "cancelled at",
        _ => "run at",
    };
    lines.push((run_at, output::time(job.run_at)));
    if let Some(deadline) = job.commit_deadline {
        lines.push(("commit deadline", output::time(deadline)));
    }
    lines.push(("created at", output::time(job.created_at)));
    if let Some(tick) = job.tick {
        lines.push(("schedule tick", output::time(tick)));
    }
    if let Some(trace) = &job.trace_context {
        lines.push(("trace context", cell(trace, 200)));
    }
    if job.state == JobState::Failed && job.ordered {
        lines.push((
            "note",
            "failed and ordered: it holds its channel until retried or deleted".to_owned(),
        ));
    }
    let width = lines.iter().map(|(key, _)| key.len()).max().unwrap_or(0) + 1;
    let mut text = String::new();
    for (key, value) in &lines {
        text.push_str(&format!("{:<width$} {value}\n", format!("{key}:")));
    }
    match &job.payload_json {
        Some(payload) => {
            text.push_str("payload json:\n");
            match serde_json::from_str::<Value>(payload)
                .and_then(|value| serde_json::to_string_pretty(&value))
            {
                Ok(pretty) => {
                    for line in pretty.lines() {
                        text.push_str(&format!("  {}\n", output::escape_json_text(line)));
                    }
                }
                Err(_) => {
                    for line in payload.lines() {
                        text.push_str(&format!("  {}\n", output::escape(line)));
                    }
                }
            }
        }
        None => text.push_str("payload json: none\n"),
    }
    match &job.payload_bytes {
        Some(bytes) => {
            let shown = &bytes[..bytes.len().min(64)];
            let more = if bytes.len() > shown.len() { "…" } else { "" };
            text.push_str(&format!(
                "payload bytes: {}: {}{more}\n",
                count(bytes.len() as u64, "byte", "bytes"),
                output::hex(shown)
            ));
        }
        None => text.push_str("payload bytes: none\n"),
    }
    if job.errors.is_empty() {
        text.push_str("errors: none\n");
    } else {
        text.push_str(&format!("errors ({}, oldest first):\n", job.errors.len()));
        for error in &job.errors {
            text.push_str(&format!(
                "  attempt {} at {}: {}\n",
                error.attempt,
                output::time(error.at),
                cell(&error.error, 4096)
            ));
        }
    }
    Ok(Report {
        text,
        json: output::info_json(&job),
    })
}

fn id_list(ids: &[Uuid]) -> Value {
    ids.iter().map(|id| json!(id.to_string())).collect()
}

async fn retry(conn: &mut PgConnection, args: RetryArgs) -> Result<Done, CliError> {
    if args.failed {
        let retried = admin::retry_failed(pooled(conn), args.channel.as_deref())
            .await
            .map_err(failed("retry"))?;
        return Ok(Report {
            text: format!("retried {}\n", count(retried, "failed job", "failed jobs")),
            json: json!({ "retried": retried }),
        }
        .into());
    }
    let retried = admin::retry(pooled(conn), &args.ids)
        .await
        .map_err(failed("retry"))?;
    let left: Vec<Uuid> = unique(&args.ids)
        .into_iter()
        .filter(|id| !retried.contains(id))
        .collect();
    let report = Report {
        text: format!("retried {}\n", count(retried.len() as u64, "job", "jobs")),
        json: json!({
            "retried": retried.len(),
            "ids": id_list(&retried),
            "not_retried": id_list(&left),
        }),
    };
    Ok(partly_done(report, LeftAlone::NotRetried, left))
}

async fn delete(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Done, CliError> {
    let deleted = admin::delete(pooled(conn), ids)
        .await
        .map_err(failed("delete"))?;
    let missing: Vec<Uuid> = unique(ids)
        .into_iter()
        .filter(|id| !deleted.contains(id))
        .collect();
    let report = Report {
        text: format!("deleted {}\n", count(deleted.len() as u64, "job", "jobs")),
        json: json!({
            "deleted": deleted.len(),
            "ids": id_list(&deleted),
            "not_found": id_list(&missing),
        }),
    };
    Ok(partly_done(report, LeftAlone::NotFound, missing))
}

async fn cancel(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Done, CliError> {
    let (mut cancelled, mut running, mut finished, mut missing) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for id in unique(ids) {
        match mq::cancel(pooled(&mut *conn), id).await {
            Ok(mq::CancelOutcome::CancelledRunning) => running.push(id),
            Ok(mq::CancelOutcome::Finished(state)) => finished.push((id, state)),
            Ok(_) => cancelled.push(id),
            Err(mq::Error::NotFound { .. }) => missing.push(id),
            Err(error) => return Err(failed("cancel")(error)),
        }
    }
    let mut text = format!(
        "cancelled {}",
        count((cancelled.len() + running.len()) as u64, "job", "jobs")
    );
    if !running.is_empty() {
        text.push_str(&format!(" ({} running, told to stop)", running.len()));
    }
    text.push('\n');
    for (id, state) in &finished {
        text.push_str(&format!("{id} had finished ({state}); left as it was\n"));
    }
    let report = Report {
        text,
        json: json!({
            "cancelled": id_list(&cancelled),
            "running": id_list(&running),
            "finished": finished.iter().map(|(id, state)| json!({
                "id": id.to_string(),
                "state": state.as_str(),
            })).collect::<Vec<_>>(),
            "not_found": id_list(&missing),
        }),
    };
    Ok(partly_done(report, LeftAlone::NotFound, missing))
}

/// The report of a command given ids, with the error that names the ids
/// it left alone (`left`), if any.
fn partly_done(report: Report, reason: LeftAlone, left: Vec<Uuid>) -> Done {
    Done {
        report,
        problem: (!left.is_empty()).then_some(CliError::Partial { reason, ids: left }),
        exit_code: 0,
    }
}

fn unique(ids: &[Uuid]) -> Vec<Uuid> {
    let mut seen = Vec::new();
    for id in ids {
        if !seen.contains(id) {
            seen.push(*id);
        }
    }
    seen
}

async fn clear(conn: &mut PgConnection, args: ClearArgs) -> Result<Report, CliError> {
    let deleted = if args.all {
        if !args.yes {
            return Err(CliError::Unconfirmed);
        }
        mq::clear_all(pooled(conn)).await
    } else {
        mq::clear(pooled(conn), &args.channels).await
    }
    .map_err(failed("clear"))?;
    Ok(Report {
        text: format!("deleted {}\n", count(deleted, "job", "jobs")),
        json: json!({ "deleted": deleted }),
    })
}

async fn prune(conn: &mut PgConnection, args: PruneArgs) -> Result<Report, CliError> {
    let states: Vec<JobState> = match args.state {
        Some(state) => vec![state.into()],
        None => vec![JobState::Failed, JobState::Completed, JobState::Cancelled],
    };
    let pruned = admin::prune(pooled(conn), args.older_than, &states)
        .await
        .map_err(failed("prune"))?;
    let names: Vec<&str> = states.iter().map(|state| state.as_str()).collect();
    Ok(Report {
        text: format!(
            "pruned {} older than {}\n",
            count(
                pruned,
                &format!("{} job", names.join(" or ")),
                &format!("{} jobs", names.join(" or "))
            ),
            output::duration(args.older_than)
        ),
        json: json!({
            "pruned": pruned,
            "states": names,
            "older_than_secs": args.older_than.as_secs(),
        }),
    })
}

/// The mq-bench binary: beside this one (as `cargo build` and
/// `cargo install` place them), else on the PATH.
fn find_bench() -> Option<PathBuf> {
    let name = format!("mq-bench{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&name)));
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(&name));
    beside
        .into_iter()
        .chain(on_path)
        .find(|path| path.is_file())
}

fn bench(args: &[String], database_url: Option<&str>) -> Result<Done, CliError> {
    let how = "the benchmark is mq-bench, a binary of this workspace: \
               `scripts/bench.sh` runs it on a throwaway PostgreSQL and writes BENCHMARKS.md \
               (`scripts/bench.sh --help` for scenarios, systems and sizes); \
               `cargo run --release -p mq-bench -- --database-url URL --quick --yes` runs it \
               against a server of your own";
    let Some(path) = find_bench() else {
        return Ok(Report {
            text: format!("mq-bench is not installed here.\n{how}\n"),
            json: json!({
                "installed": false,
                "run": "scripts/bench.sh",
                "help": how,
            }),
        }
        .into());
    };
    let mut command = std::process::Command::new(&path);
    // A URL given on mq's command line names the benchmark's server as
    // explicitly as one given to mq-bench; DATABASE_URL does not, as the
    // benchmark creates databases and loads the server for an hour.
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    command.args(args);
    let status = command.status().map_err(|source| CliError::Bench {
        path: path.display().to_string(),
        source,
    })?;
    // mq-bench printed its own report; ours is empty.
    Ok(Done {
        report: Report {
            text: String::new(),
            json: Value::Null,
        },
        problem: None,
        exit_code: status
            .code()
            .and_then(|code| u8::try_from(code).ok())
            .unwrap_or(1),
    })
}
