//! The `mq` binary against a real PostgreSQL: every command, in text and
//! in JSON, and its errors.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use mq::admin;
use mq::{JobBuilder, JobRegistry, JobRunnerOptions, JobState, Schedule, Uuid};
use mq_test_db::TestDb;
use serde_json::Value;
use sqlx::PgPool;

/// A fresh database, migrated unless asked otherwise, and a pool on it.
struct Fixture {
    db: TestDb,
    pool: PgPool,
}

impl Fixture {
    async fn new() -> Self {
        let fixture = Self::unmigrated().await;
        mq::migrate(&fixture.pool).await.unwrap();
        fixture
    }

    async fn unmigrated() -> Self {
        let db = TestDb::create();
        let pool = PgPool::connect(db.url()).await.unwrap();
        Self { db, pool }
    }

    /// Runs `mq` with `args` on this database.
    fn mq(&self, args: &[&str]) -> Run {
        run(Path::new(env!("CARGO_BIN_EXE_mq")), args, |command| {
            command.env("DATABASE_URL", self.db.url());
        })
    }

    async fn spawn(&self, builder: &mut JobBuilder) -> Uuid {
        builder.spawn(&self.pool).await.unwrap()
    }

    /// Runs the jobs of `channel` with a runner that drops every job, so
    /// that jobs without retries end up failed; returns once `ids` are.
    async fn fail_jobs(&self, channel: &str, ids: &[Uuid]) {
        let mut runner = JobRunnerOptions::new(&self.pool, drop)
            .set_channel_names(&[channel])
            .set_poll_interval(Duration::from_millis(50))
            .run()
            .await
            .unwrap();
        let start = Instant::now();
        for id in ids {
            loop {
                let job = admin::get(&self.pool, *id).await.unwrap().unwrap();
                if job.state == JobState::Failed {
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "job {id} never failed"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        runner.stop().await;
    }

    async fn state(&self, id: Uuid) -> Option<JobState> {
        admin::get(&self.pool, id)
            .await
            .unwrap()
            .map(|job| job.state)
    }
}

/// One run of the binary.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "mq failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts success and parses stdout as JSON.
    fn json(&self) -> Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// Asserts failure with `code` and returns stderr.
    fn fails(&self, code: i32) -> &str {
        assert_eq!(
            self.code, code,
            "expected exit status {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        &self.stderr
    }

    /// Asserts failure (status 1) and parses stderr as a JSON error.
    fn json_error(&self) -> Value {
        let stderr = self.fails(1);
        let value: Value = serde_json::from_str(stderr)
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}):\n{stderr}"));
        value["error"].clone()
    }
}

fn run(binary: &Path, args: &[&str], configure: impl FnOnce(&mut Command)) -> Run {
    let mut command = Command::new(binary);
    command.args(args).env_remove("DATABASE_URL");
    configure(&mut command);
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("run mq");
    Run {
        code: status.code().expect("mq exited by a signal"),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

fn job(name: &str, channel: &str) -> JobBuilder {
    let mut builder = JobBuilder::new(name);
    builder.set_channel_name(channel);
    builder
}

fn ids(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_then_status_of_an_empty_queue() {
    let fx = Fixture::unmigrated().await;
    let stderr = fx.mq(&["status"]).fails(1).to_owned();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("run `mq migrate` first"), "{stderr}");
    assert_eq!(
        fx.mq(&["--json", "status"]).json_error()["kind"],
        "not_migrated"
    );

    assert_eq!(fx.mq(&["migrate"]).ok(), "mq's tables are up to date\n");
    assert_eq!(fx.mq(&["migrate", "--json"]).json()["migrated"], true);
    assert_eq!(fx.mq(&["status"]).ok(), "no jobs\n");
    let status = fx.mq(&["status", "--json"]).json();
    assert_eq!(status["channels"], Value::Array(vec![]));
    assert_eq!(status["totals"]["ready"], 0);
    assert_eq!(status["running"], 0);
    assert_eq!(status["oldest_ready_age_secs"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_jobs_per_channel_and_state() {
    let fx = Fixture::new().await;
    fx.spawn(&mut job("send", "emails")).await;
    fx.spawn(&mut job("send", "emails")).await;
    fx.spawn(job("send", "emails").set_delay(Duration::from_secs(3600)))
        .await;
    let head = fx
        .spawn(job("report", "reports").set_ordered(true).set_retries(0))
        .await;
    fx.fail_jobs("reports", &[head]).await;
    // Spawned after the head failed, it waits behind it.
    let behind = fx.spawn(job("report", "reports").set_ordered(true)).await;
    let shown = fx.mq(&["show", &behind.to_string()]).ok().to_owned();
    assert!(shown.contains("yes, 1 ordered job ahead of it"), "{shown}");
    assert_eq!(
        fx.mq(&["show", &head.to_string(), "--json"]).json()["ordered_ahead"],
        0
    );

    let text = fx.mq(&["status"]).ok().to_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("CHANNEL"), "{text}");
    assert!(
        lines[0].contains("READY") && lines[0].contains("OLDEST READY"),
        "{text}"
    );
    let emails: Vec<&str> = lines[1].split_whitespace().collect();
    // Columns: uncommitted, blocked, scheduled, ready, running, failed.
    assert_eq!(
        emails[..7],
        ["emails", "0", "0", "1", "2", "0", "0"],
        "{text}"
    );
    let reports: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(
        reports[..7],
        ["reports", "0", "1", "0", "0", "0", "1"],
        "{text}"
    );
    assert!(lines[3].starts_with("(all)"), "{text}");
    assert!(text.contains("running: 0, oldest ready job: "), "{text}");
    assert!(
        text.contains("ordered channels held by a failed job: 1 (in reports)"),
        "{text}"
    );

    let status = fx.mq(&["--json", "status"]).json();
    let channels = status["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 2);
    assert_eq!(channels[0]["channel_name"], "emails");
    assert_eq!(channels[0]["counts"]["ready"], 2);
    assert_eq!(channels[0]["counts"]["scheduled"], 1);
    assert!(channels[0]["oldest_ready_age_secs"].is_f64());
    assert_eq!(channels[1]["channel_name"], "reports");
    assert_eq!(channels[1]["counts"]["failed"], 1);
    assert_eq!(channels[1]["blocked_ordered_channels"], 1);
    assert_eq!(status["totals"]["ready"], 2);
    assert_eq!(status["totals"]["blocked"], 1);
    assert_eq!(status["totals"]["failed"], 1);
    assert_eq!(status["running"], 0);
    assert_eq!(status["blocked_ordered_channels"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_filters_and_pages() {
    let fx = Fixture::new().await;
    let mut spawned = Vec::new();
    for channel in ["a", "b", "a", "a", "b", "a", "a"] {
        spawned.push(fx.spawn(&mut job("work", channel)).await.to_string());
    }

    let text = fx.mq(&["list"]).ok().to_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 8, "{text}");
    assert!(lines[0].starts_with("ID"), "{text}");
    for (line, id) in lines[1..].iter().zip(&spawned) {
        assert!(line.starts_with(id.as_str()), "{line} is not {id}");
        assert!(line.contains("ready") && line.contains("0/5"), "{line}");
    }

    let all = fx.mq(&["list", "--json"]).json();
    assert_eq!(ids(&all["jobs"]), spawned);
    assert_eq!(all["next"], Value::Null);
    assert_eq!(all["jobs"][0]["state"], "ready");
    assert_eq!(all["jobs"][0]["channel_name"], "a");
    assert_eq!(all["jobs"][0]["last_error"], Value::Null);

    let b = fx.mq(&["list", "--channel", "b", "--json"]).json();
    assert_eq!(
        ids(&b["jobs"]),
        vec![spawned[1].clone(), spawned[4].clone()]
    );
    assert_eq!(fx.mq(&["list", "--state", "failed"]).ok(), "no jobs\n");
    assert_eq!(
        fx.mq(&["list", "--state", "failed", "--json"]).json()["jobs"],
        Value::Array(vec![])
    );

    let first = fx.mq(&["list", "--limit", "3", "--json"]).json();
    assert_eq!(ids(&first["jobs"]), spawned[..3]);
    let cursor = first["next"].as_str().expect("a next page").to_owned();
    let text = fx.mq(&["list", "--limit", "3"]).ok().to_owned();
    assert!(text.contains(&format!("--after {cursor}")), "{text}");
    let second = fx
        .mq(&["list", "--limit", "3", "--after", &cursor, "--json"])
        .json();
    assert_eq!(ids(&second["jobs"]), spawned[3..6]);
    let cursor = second["next"].as_str().unwrap().to_owned();
    let last = fx
        .mq(&["list", "--limit", "3", "--after", &cursor, "--json"])
        .json();
    assert_eq!(ids(&last["jobs"]), spawned[6..]);
    assert_eq!(last["next"], Value::Null);

    let stderr = fx.mq(&["list", "--state", "lost"]).fails(2).to_owned();
    assert!(stderr.contains("invalid value 'lost'"), "{stderr}");
}

/// A W3C traceparent, as the `otel` feature stores it.
const TRACE: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_prints_a_job_and_its_errors() {
    let fx = Fixture::new().await;
    let id = fx
        .spawn(
            job("import", "bad")
                .set_channel_args("2024-05")
                .set_json(&serde_json::json!({"file": "may.csv"}))
                .unwrap()
                .set_raw_bytes([1u8, 2])
                .set_retries(0)
                .set_trace_context(Some(TRACE.to_owned())),
        )
        .await;
    fx.fail_jobs("bad", &[id]).await;
    // As the runner that fires a schedule would have spawned it.
    sqlx::query("UPDATE mq_jobs SET tick = '2026-11-30T03:00:00.25Z' WHERE id = $1")
        .bind(id)
        .execute(&fx.pool)
        .await
        .unwrap();

    let text = fx.mq(&["show", &id.to_string()]).ok().to_owned();
    for expected in [
        "id:".to_owned(),
        format!("{id}"),
        "state:".to_owned(),
        "failed".to_owned(),
        "channel args:".to_owned(),
        "2024-05".to_owned(),
        "attempt:".to_owned(),
        "1 of 1 (0 retries)".to_owned(),
        "failed at:".to_owned(),
        "\"file\": \"may.csv\"".to_owned(),
        "payload bytes: 2 bytes: 0102".to_owned(),
        "errors (1, oldest first):".to_owned(),
        "attempt 1 at ".to_owned(),
        "the job was dropped without completing".to_owned(),
    ] {
        assert!(
            text.contains(&expected),
            "{expected:?} missing from:\n{text}"
        );
    }

    let job = fx.mq(&["show", &id.to_string(), "--json"]).json();
    assert_eq!(job["id"], id.to_string());
    assert_eq!(job["state"], "failed");
    assert_eq!(job["name"], "import");
    assert_eq!(job["channel_args"], "2024-05");
    assert_eq!(job["attempt"], 1);
    assert_eq!(job["retries"], 0);
    assert_eq!(job["payload_json"]["file"], "may.csv");
    assert_eq!(job["payload_bytes_hex"], "0102");
    assert_eq!(job["trace_context"], TRACE);
    assert_eq!(job["tick"], "2026-11-30T03:00:00.25Z");
    assert!(
        text.lines()
            .any(|line| line.starts_with("schedule tick:")
                && line.ends_with(" 2026-11-30T03:00:00Z")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|line| line.starts_with("trace context:") && line.ends_with(TRACE)),
        "{text}"
    );
    assert_eq!(job["errors"][0]["attempt"], 1);
    assert_eq!(
        job["errors"][0]["error"],
        "the job was dropped without completing"
    );
    assert!(job["errors"][0]["at"].as_str().unwrap().ends_with('Z'));

    assert_eq!(job["retry_backoff_secs"], 1.0);
    assert_eq!(job["retry_backoff_max_secs"], Value::Null);
    assert_eq!(job["retry_jitter"], false);
    assert!(text.contains("retry backoff: 1.0s\n"), "{text}");

    assert!(field(&text, "priority") == Some("0"), "{text}");
    assert!(field(&text, "unique key") == Some("none"), "{text}");
    assert_eq!(job["priority"], 0);

    // A cap and jitter are shown with the backoff; the priority as set.
    let limited = fx
        .spawn(
            crate::job("limited", "c")
                .set_retry_backoff_max(Duration::from_secs(60))
                .set_retry_jitter(true)
                .set_priority(-7)
                .set_unique_key("<k>")
                .set_unique_for(Duration::from_secs(90)),
        )
        .await;
    let text = fx.mq(&["show", &limited.to_string()]).ok().to_owned();
    assert!(
        text.contains("retry backoff: 1.0s, at most 1m, jittered"),
        "{text}"
    );
    assert!(field(&text, "priority") == Some("-7"), "{text}");
    assert_eq!(
        field(&text, "unique key"),
        Some("<k>, held 1m 30s after completion"),
        "{text}"
    );
    let job = fx.mq(&["show", &limited.to_string(), "--json"]).json();
    assert_eq!(job["retry_backoff_max_secs"], 60.0);
    assert_eq!(job["retry_jitter"], true);
    assert_eq!(job["priority"], -7);
    assert_eq!(job["unique_key"], "<k>");
    assert_eq!(job["unique_for_secs"], 90.0);

    let unknown = Uuid::now_v7().to_string();
    let stderr = fx.mq(&["show", &unknown]).fails(1).to_owned();
    assert!(
        stderr.contains(&format!("error: no job {unknown}")),
        "{stderr}"
    );
    assert_eq!(
        fx.mq(&["show", &unknown, "--json"]).json_error()["kind"],
        "not_found"
    );
    let stderr = fx.mq(&["show", "not-an-id"]).fails(2).to_owned();
    assert!(stderr.contains("invalid value 'not-an-id'"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_makes_failed_jobs_ready() {
    let fx = Fixture::new().await;
    let mut failed = Vec::new();
    for channel in ["bad", "bad", "worse"] {
        let id = fx.spawn(job("flaky", channel).set_retries(0)).await;
        fx.fail_jobs(channel, &[id]).await;
        failed.push(id);
    }
    let ready = fx.spawn(&mut job("fine", "good")).await;

    // One by id; a job that is not failed is reported, and the status is 1.
    let run = fx.mq(&["retry", &failed[0].to_string(), &ready.to_string()]);
    assert_eq!(run.stdout, "retried 1 job\n");
    let stderr = run.fails(1);
    assert!(
        stderr.contains(
            "error: 1 of the given jobs was not failed (or does not exist), so was not retried: "
        ),
        "{stderr}"
    );
    assert!(stderr.contains(&ready.to_string()), "{stderr}");
    assert_eq!(fx.state(failed[0]).await, Some(JobState::Ready));
    let job = admin::get(&fx.pool, failed[0]).await.unwrap().unwrap();
    assert_eq!(job.attempt, 0);
    assert_eq!(job.errors.len(), 1, "the error history is kept");

    // Every failed job of a channel name, then every failed job.
    let retried = fx
        .mq(&["retry", "--failed", "--channel", "bad", "--json"])
        .json();
    assert_eq!(retried["retried"], 1);
    assert_eq!(fx.state(failed[1]).await, Some(JobState::Ready));
    assert_eq!(fx.state(failed[2]).await, Some(JobState::Failed));
    assert_eq!(fx.mq(&["retry", "--failed"]).ok(), "retried 1 failed job\n");
    assert_eq!(fx.state(failed[2]).await, Some(JobState::Ready));
    assert_eq!(
        fx.mq(&["retry", "--failed"]).ok(),
        "retried 0 failed jobs\n"
    );
    let run = fx.mq(&[
        "retry",
        &Uuid::now_v7().to_string(),
        &Uuid::now_v7().to_string(),
    ]);
    assert_eq!(run.stdout, "retried 0 jobs\n");
    let stderr = run.fails(1);
    assert!(
        stderr.contains(
            "error: 2 of the given jobs were not failed (or do not exist), so were not retried: "
        ),
        "{stderr}"
    );

    let unknown = Uuid::now_v7();
    let error = fx
        .mq(&["retry", &unknown.to_string(), "--json"])
        .json_error();
    assert_eq!(error["kind"], "partial");
    let stderr = fx.mq(&["retry"]).fails(2).to_owned();
    assert!(stderr.contains("--failed"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_jobs() {
    let fx = Fixture::new().await;
    let a = fx.spawn(&mut job("j", "a")).await;
    let b = fx.spawn(&mut job("j", "a")).await;
    let unknown = Uuid::now_v7();
    let run = fx.mq(&["cancel", &a.to_string(), &unknown.to_string()]);
    assert_eq!(run.stdout, "cancelled 1 job\n");
    let stderr = run.fails(1);
    assert!(
        stderr.contains("1 of the given jobs does not exist"),
        "{stderr}"
    );
    assert_eq!(fx.state(a).await, Some(JobState::Cancelled));
    assert_eq!(fx.state(b).await, Some(JobState::Ready));

    let again = fx.mq(&["cancel", &a.to_string(), "--json"]).json();
    assert_eq!(again["finished"][0]["state"], "cancelled");
    assert_eq!(again["cancelled"].as_array().map(Vec::len), Some(0));
    let status = fx.mq(&["status", "--json"]).json();
    assert_eq!(status["totals"]["cancelled"], 1);
    assert!(fx.mq(&["status"]).ok().contains("CANCELLED"));
    assert_eq!(
        fx.mq(&["prune", "--older-than", "0s", "--state", "cancelled"])
            .ok(),
        "pruned 1 cancelled job older than 0ms\n"
    );
    assert_eq!(fx.state(a).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_a_channel() {
    let fx = Fixture::new().await;
    fx.spawn(&mut job("j", "a")).await;
    assert_eq!(
        fx.mq(&["pause", "a"]).ok(),
        "paused channel a: runners leave its jobs until `mq resume`\n"
    );
    assert_eq!(
        fx.mq(&["pause", "a"]).ok(),
        "channel a was already paused\n"
    );
    let paused = fx.mq(&["pause", "empty", "--json"]).json();
    assert_eq!(paused["changed"], true);

    let status = fx.mq(&["status"]).ok().to_owned();
    assert!(status.contains("a (paused)"), "{status}");
    assert!(
        status.contains("paused channels: a, empty; `mq resume NAME` resumes one"),
        "{status}"
    );
    let json = fx.mq(&["status", "--json"]).json();
    assert_eq!(json["channels"][0]["paused"], true);
    assert_eq!(json["paused"][1]["channel_name"], "empty");

    assert_eq!(fx.mq(&["resume", "a"]).ok(), "resumed channel a\n");
    let stderr = fx.mq(&["resume", "a"]).fails(1).to_owned();
    assert!(
        stderr.contains("mq resume: channel \"a\" is not paused"),
        "{stderr}"
    );
    assert_eq!(
        fx.mq(&["resume", "a", "--json"]).json_error()["kind"],
        "not_paused"
    );
    let status = fx.mq(&["status", "--json"]).json();
    assert_eq!(status["paused"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_clear_and_prune() {
    let fx = Fixture::new().await;
    let a1 = fx.spawn(&mut job("j", "a")).await;
    let a2 = fx.spawn(&mut job("j", "a")).await;
    let b = fx.spawn(&mut job("j", "b")).await;
    let c = fx.spawn(&mut job("j", "c")).await;
    let failed = fx.spawn(job("j", "bad").set_retries(0)).await;
    fx.fail_jobs("bad", &[failed]).await;

    assert_eq!(fx.mq(&["delete", &a1.to_string()]).ok(), "deleted 1 job\n");
    assert_eq!(fx.state(a1).await, None);
    let run = fx.mq(&["delete", &a1.to_string(), &a2.to_string(), "--json"]);
    let deleted: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(deleted["deleted"], 1);
    assert_eq!(deleted["not_found"][0], a1.to_string());
    let stderr = run.fails(1);
    assert!(
        stderr.contains("1 of the given jobs does not exist: "),
        "{stderr}"
    );

    let stderr = fx.mq(&["clear", "--all"]).fails(1).to_owned();
    assert!(stderr.contains("without --yes"), "{stderr}");
    assert_eq!(
        fx.state(b).await,
        Some(JobState::Ready),
        "--all without --yes deleted"
    );
    assert_eq!(
        fx.mq(&["clear", "--all", "--json"]).json_error()["kind"],
        "unconfirmed"
    );
    assert_eq!(
        fx.mq(&["clear", "--channel", "b", "--json"]).json()["deleted"],
        1
    );
    assert_eq!(fx.state(b).await, None);
    assert_eq!(fx.state(c).await, Some(JobState::Ready));

    assert_eq!(
        fx.mq(&["prune", "--older-than", "7d"]).ok(),
        "pruned 0 failed or completed or cancelled jobs older than 7d\n"
    );
    let pruned = fx
        .mq(&[
            "prune",
            "--older-than",
            "0s",
            "--state",
            "completed",
            "--json",
        ])
        .json();
    assert_eq!(pruned["pruned"], 0);
    assert_eq!(pruned["states"], serde_json::json!(["completed"]));
    let pruned = fx
        .mq(&["prune", "--older-than", "0s", "--state", "failed", "--json"])
        .json();
    assert_eq!(pruned["pruned"], 1);
    assert_eq!(fx.state(failed).await, None);
    let stderr = fx
        .mq(&["prune", "--older-than", "soon"])
        .fails(2)
        .to_owned();
    assert!(stderr.contains("is not a duration"), "{stderr}");
    let stderr = fx.mq(&["prune"]).fails(2).to_owned();
    assert!(stderr.contains("--older-than"), "{stderr}");

    assert_eq!(fx.mq(&["clear", "--all", "--yes"]).ok(), "deleted 1 job\n");
    assert_eq!(fx.state(c).await, None);
}

#[test]
fn errors_are_told_clearly_without_a_database() {
    let mq = Path::new(env!("CARGO_BIN_EXE_mq"));
    let no_url = run(mq, &["status"], |_| {});
    assert_eq!(
        no_url.fails(1),
        "error: no database given: set DATABASE_URL or pass --database-url\n"
    );
    let error = run(mq, &["status", "--json"], |_| {}).json_error();
    assert_eq!(error["kind"], "no_database");

    let nowhere = "postgres://mq:secret@localhost/mq?host=/nonexistent-socket-dir";
    let unreachable = run(mq, &["list"], |c| {
        c.env("DATABASE_URL", nowhere);
    });
    let stderr = unreachable.fails(1);
    assert!(
        stderr.starts_with("error: cannot connect to the database at "),
        "{stderr}"
    );
    assert!(
        !stderr.contains("secret"),
        "the password was printed: {stderr}"
    );
    assert!(stderr.contains("hint: "), "{stderr}");
    let error = run(mq, &["--database-url", nowhere, "--json", "list"], |_| {}).json_error();
    assert_eq!(error["kind"], "connect");
}

#[test]
fn bench_points_to_the_benchmark_or_runs_it() {
    // A copy of mq alone in a directory, with nothing on the PATH: no
    // mq-bench to find.
    let dir = std::env::temp_dir().join(format!("mq-cli-bench-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mq = dir.join("mq");
    std::fs::copy(env!("CARGO_BIN_EXE_mq"), &mq).unwrap();
    let isolated = |c: &mut Command| {
        c.env("PATH", "");
    };
    let text = run(&mq, &["bench"], isolated).ok().to_owned();
    assert!(text.contains("scripts/bench.sh"), "{text}");
    let json = run(&mq, &["bench", "--json"], isolated).json();
    assert_eq!(json["installed"], false);
    assert_eq!(json["run"], "scripts/bench.sh");

    // With an mq-bench beside it, mq runs it with the arguments given and
    // exits with its status.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let bench = dir.join("mq-bench");
        std::fs::write(&bench, "#!/bin/sh\necho \"bench $*\"\nexit 3\n").unwrap();
        std::fs::set_permissions(&bench, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ran = run(&mq, &["bench", "--quick", "--systems", "mq-sqlx"], isolated);
        assert_eq!(ran.stdout, "bench --quick --systems mq-sqlx\n");
        assert_eq!(ran.code, 3);
        // --help is mq-bench's, not mq's one-line description of it.
        let ran = run(&mq, &["bench", "--help"], isolated);
        assert_eq!(ran.stdout, "bench --help\n");
        // DATABASE_URL does not name the benchmark's server (it loads it
        // for an hour); a URL given to mq on its command line does.
        let ran = run(&mq, &["bench", "--quick"], |c| {
            isolated(c);
            c.env("DATABASE_URL", "postgres://localhost/production");
        });
        assert_eq!(ran.stdout, "bench --quick\n");
        let ran = run(
            &mq,
            &[
                "--database-url",
                "postgres://localhost/scratch",
                "bench",
                "--quick",
            ],
            isolated,
        );
        assert_eq!(
            ran.stdout,
            "bench --database-url postgres://localhost/scratch --quick\n"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every command works with `DATABASE_URL` naming PgBouncer in transaction
/// pooling mode, whose server connections change between transactions
/// (the test script starts one and sets `MQ_PGBOUNCER_URL`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_work_through_pgbouncer() {
    let fx = Fixture::unmigrated().await;
    let through = fx.db.pgbouncer_url();
    let mq = |args: &[&str]| {
        run(Path::new(env!("CARGO_BIN_EXE_mq")), args, |command| {
            command.env("DATABASE_URL", &through);
        })
    };
    // Twice: the second finds the schema up to date.
    for _ in 0..2 {
        assert_eq!(mq(&["migrate"]).ok(), "mq's tables are up to date\n");
    }
    let id = fx.spawn(job("flaky", "c").set_retries(0)).await;
    fx.fail_jobs("c", &[id]).await;
    let other = fx.spawn(&mut job("fine", "c")).await;
    // Many calls in a row, so that they land on different server
    // connections.
    for _ in 0..5 {
        let status = mq(&["status", "--json"]).json();
        assert_eq!(status["channels"][0]["channel_name"], "c");
        assert_eq!(status["totals"]["failed"], 1);
        let failed = mq(&["list", "--state", "failed", "--json"]).json();
        assert_eq!(ids(&failed["jobs"]), [id.to_string()]);
        assert_eq!(
            mq(&["show", &id.to_string(), "--json"]).json()["state"],
            "failed"
        );
    }
    assert_eq!(mq(&["retry", "--failed"]).ok(), "retried 1 failed job\n");
    assert_eq!(fx.state(id).await, Some(JobState::Ready));
    mq(&["delete", &other.to_string()]).ok();
    assert_eq!(fx.state(other).await, None);
}

/// `url` with the query parameter `param` (`key=value`) added.
fn with_param(url: &str, param: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{param}")
}

/// `url` with its user info replaced by `user:password`.
fn with_user(url: &str, user: &str, password: &str) -> String {
    let start = url.find("://").expect("a URL") + 3;
    let authority_end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let host = url[start..authority_end]
        .rfind('@')
        .map_or(start, |at| start + at + 1);
    format!("{}{user}:{password}@{}", &url[..start], &url[host..])
}

/// The `Usage:` line of clap's text.
fn usage_line(text: &str) -> &str {
    text.lines()
        .find(|line| line.starts_with("Usage:"))
        .unwrap_or_else(|| panic!("no usage line in:\n{text}"))
}

/// `sslmode=require` gets as far as asking the server for TLS (the CLI is
/// built with it), and the test server, which has none, says so;
/// `sslmode=prefer` falls back to a plain connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_is_built_in_and_sslmode_is_honored() {
    let fx = Fixture::new().await;
    let mq = Path::new(env!("CARGO_BIN_EXE_mq"));
    let require = with_param(fx.db.url(), "sslmode=require");
    let run_require = run(mq, &["status"], |c| {
        c.env("DATABASE_URL", &require);
    });
    let stderr = run_require.fails(1);
    assert!(!stderr.contains("built without TLS"), "{stderr}");
    let lower = stderr.to_lowercase();
    assert!(
        lower.contains("does not support tls") || lower.contains("does not support ssl"),
        "{stderr}"
    );
    assert!(
        stderr.contains("sslmode"),
        "the hint names sslmode: {stderr}"
    );
    let error = run(
        mq,
        &["status", "--json", "--database-url", &require],
        |_| {},
    )
    .json_error();
    assert_eq!(error["kind"], "connect");

    let prefer = with_param(fx.db.url(), "sslmode=prefer");
    let ran = run(mq, &["status"], |c| {
        c.env("DATABASE_URL", &prefer);
    });
    assert_eq!(ran.ok(), "no jobs\n");
}

/// A real TLS handshake, verified: the test script's PgBouncer offers TLS
/// with a certificate for 127.0.0.1 from a throwaway CA
/// (`MQ_PGBOUNCER_TLS_CA`), and the CLI connects through it with
/// `sslmode=verify-full`, which fails unless the handshake happened and the
/// certificate checked out. The same URL with the CA left out fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_connections_are_made_and_verified() {
    let fx = Fixture::new().await;
    let mq = Path::new(env!("CARGO_BIN_EXE_mq"));
    let ca = std::env::var("MQ_PGBOUNCER_TLS_CA").expect(
        "MQ_PGBOUNCER_TLS_CA is not set: run the tests with scripts/test.sh, whose PgBouncer offers TLS",
    );
    let verified = with_param(
        &with_param(&fx.db.pgbouncer_url(), "sslmode=verify-full"),
        &format!("sslrootcert={ca}"),
    );
    fx.spawn(&mut job("secure", "tls")).await;
    let status = run(mq, &["status", "--json"], |c| {
        c.env("DATABASE_URL", &verified);
    })
    .json();
    assert_eq!(status["channels"][0]["channel_name"], "tls");

    // Without the CA, the certificate is not trusted: the TLS session was
    // real enough to be refused.
    let unverified = with_param(&fx.db.pgbouncer_url(), "sslmode=verify-full");
    let stderr = run(mq, &["status"], |c| {
        c.env("DATABASE_URL", &unverified);
    })
    .fails(1)
    .to_lowercase();
    assert!(stderr.contains("certificate"), "{stderr}");
}

/// With `--json`, usage errors are JSON too, with status 2; `--help` and
/// `--version` still print text and succeed.
#[test]
fn usage_errors_are_json_with_json() {
    let mq = Path::new(env!("CARGO_BIN_EXE_mq"));
    let usage_error = |args: &[&str]| -> Value {
        let ran = run(mq, args, |_| {});
        let stderr = ran.fails(2);
        assert!(ran.stdout.is_empty(), "{}", ran.stdout);
        let value: Value = serde_json::from_str(stderr)
            .unwrap_or_else(|e| panic!("stderr of {args:?} is not JSON ({e}):\n{stderr}"));
        let error = value["error"].clone();
        assert_eq!(error["kind"], "usage", "{error}");
        assert!(error["causes"].is_array(), "{error}");
        error
    };

    let unknown = usage_error(&["status", "--json", "--bogus"]);
    assert_eq!(unknown["message"], "unexpected argument '--bogus' found");
    assert!(
        unknown["hint"]
            .as_str()
            .unwrap()
            .contains("Usage: mq status"),
        "{unknown}"
    );
    let missing = usage_error(&["--json", "retry"]);
    assert!(
        missing["message"]
            .as_str()
            .unwrap()
            .contains("<IDS|--failed>"),
        "{missing}"
    );
    let invalid = usage_error(&["list", "--limit", "0", "--json"]);
    assert!(
        invalid["message"].as_str().unwrap().contains("--limit"),
        "{invalid}"
    );
    usage_error(&["--json"]);
    usage_error(&["--json", "frobnicate"]);

    // Without --json (before a `--`), clap's text.
    let text = run(mq, &["status", "--bogus"], |_| {});
    assert!(
        text.fails(2)
            .starts_with("error: unexpected argument '--bogus' found"),
        "{}",
        text.stderr
    );

    let help = run(mq, &["--json", "status", "--help"], |_| {});
    assert!(usage_line(help.ok()).starts_with("Usage: mq status"));
    let version = run(mq, &["--version", "--json"], |_| {});
    assert!(version.ok().starts_with("mq "), "{}", version.stdout);
}

/// A URL of another database is refused before anything connects, and
/// named by where it came from, without its password.
#[test]
fn non_postgres_urls_are_refused_without_connecting() {
    let mq = Path::new(env!("CARGO_BIN_EXE_mq"));
    // Nothing listens on port 1: a connection attempt would be refused.
    let mysql = "mysql://app:secret@127.0.0.1:1/app";
    let from_env = run(mq, &["status"], |c| {
        c.env("DATABASE_URL", mysql);
    });
    assert_eq!(
        from_env.fails(1),
        "error: DATABASE_URL must be a postgres:// or postgresql:// URL, got mysql://app:***@127.0.0.1:1/app\n  \
         hint: e.g. postgres://user:password@host:5432/database?sslmode=require\n"
    );
    let error = run(mq, &["list", "--json", "--database-url", mysql], |_| {}).json_error();
    assert_eq!(error["kind"], "not_postgres");
    assert_eq!(
        error["message"],
        "--database-url must be a postgres:// or postgresql:// URL, got mysql://app:***@127.0.0.1:1/app"
    );
    assert_eq!(error["causes"], Value::Array(vec![]));

    // No scheme at all, and a password as a parameter.
    let stderr = run(
        mq,
        &["status", "--database-url", "localhost/app?password=secret"],
        |_| {},
    )
    .fails(1)
    .to_owned();
    assert!(
        stderr.starts_with("error: --database-url must be a postgres:// or postgresql:// URL, got localhost/app?password=***\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "{stderr}");

    // The scheme is case-insensitive: this one is tried (and refused).
    let stderr = run(
        mq,
        &[
            "status",
            "--database-url",
            "PostgreSQL://app:secret@127.0.0.1:1/app",
        ],
        |_| {},
    )
    .fails(1)
    .to_owned();
    assert!(
        stderr.starts_with(
            "error: cannot connect to the database at PostgreSQL://app:***@127.0.0.1:1/app"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("secret"), "{stderr}");
}

/// sqlx renders a server error with the line of PostgreSQL's C source that
/// raised it (" at line 1392"); the CLI shows the server's message alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_errors_carry_no_source_positions() {
    let fx = Fixture::unmigrated().await;
    let stderr = fx.mq(&["status"]).fails(1).to_owned();
    assert!(
        stderr.starts_with("error: mq status: relation \"mq_jobs\" does not exist\n"),
        "{stderr}"
    );
    assert!(!stderr.contains(" at line "), "{stderr}");
    let error = fx.mq(&["status", "--json"]).json_error();
    assert!(!error.to_string().contains(" at line "), "{error}");

    // A connection error from the server: the database does not exist.
    let missing = mq_test_db::with_database(fx.db.url(), "mq_no_such_database");
    let ran = run(Path::new(env!("CARGO_BIN_EXE_mq")), &["status"], |c| {
        c.env("DATABASE_URL", &missing);
    });
    let stderr = ran.fails(1);
    assert!(
        stderr.contains("caused by: database \"mq_no_such_database\" does not exist\n"),
        "{stderr}"
    );
    assert!(!stderr.contains(" at line "), "{stderr}");
}

/// A role that may not read mq's tables gets the command it ran and the
/// database's message, not the name of mq's internal operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_errors_name_the_command_and_the_database_message() {
    let fx = Fixture::new().await;
    let role = format!("mq_cli_nobody_{}", Uuid::now_v7().simple());
    // The role's name is ours (a UUID), so the SQL is safe as formatted.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'nobody-pw'"
    )))
    .execute(&fx.pool)
    .await
    .unwrap();
    let url = with_user(fx.db.url(), &role, "nobody-pw");
    let as_role = |args: &[&str]| {
        run(Path::new(env!("CARGO_BIN_EXE_mq")), args, |c| {
            c.env("DATABASE_URL", &url);
        })
    };
    let text = as_role(&["status"]);
    let json = as_role(&["status", "--json"]);
    let list = as_role(&["list"]);
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE {role}")))
        .execute(&fx.pool)
        .await
        .unwrap();

    let stderr = text.fails(1);
    assert!(
        stderr.starts_with("error: mq status: permission denied for table mq_"),
        "{stderr}"
    );
    assert!(!stderr.contains("backend error"), "{stderr}");
    assert!(!stderr.contains("job_stats"), "{stderr}");
    assert!(!stderr.contains("nobody-pw"), "{stderr}");
    assert!(stderr.contains("hint: this database role may not use mq's tables"));
    let error = json.json_error();
    assert_eq!(error["kind"], "permission_denied");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("mq status: permission denied for table mq_"),
        "{error}"
    );
    assert_eq!(error["causes"], Value::Array(vec![]));
    assert!(
        list.fails(1)
            .starts_with("error: mq list: permission denied for table mq_"),
        "{}",
        list.stderr
    );
}

/// `--database-url` is optional (DATABASE_URL stands in for it): help and
/// usage lines show it so, even when DATABASE_URL is set, and a missing
/// URL names both.
#[test]
fn the_database_url_is_optional_in_usage() {
    let mq = Path::new(env!("CARGO_BIN_EXE_mq"));
    let with_env = |c: &mut Command| {
        c.env("DATABASE_URL", "postgres://localhost/app");
    };
    let help = run(mq, &["status", "--help"], with_env);
    let text = help.ok();
    assert_eq!(usage_line(text), "Usage: mq status [OPTIONS]");
    let option = text
        .lines()
        .find(|line| line.trim_start().starts_with("--database-url <URL>"))
        .unwrap_or_else(|| panic!("no --database-url in:\n{text}"));
    assert!(option.contains("DATABASE_URL"), "{option}");
    assert!(!text.contains("required"), "{text}");

    for (args, usage) in [
        (&["retry"][..], "Usage: mq retry <IDS|--failed>"),
        (&["prune"][..], "Usage: mq prune --older-than <DURATION>"),
        (&["show"][..], "Usage: mq show <ID>"),
    ] {
        let configures: [fn(&mut Command); 2] = [with_env, |_| {}];
        for configure in configures {
            let ran = run(mq, args, configure);
            assert_eq!(usage_line(ran.fails(2)), usage, "{}", ran.stderr);
        }
    }

    let missing = run(mq, &["status"], |_| {});
    let stderr = missing.fails(1);
    assert!(
        stderr.contains("--database-url") && stderr.contains("DATABASE_URL"),
        "{stderr}"
    );
    let error = run(mq, &["status", "--json"], |c| {
        c.env("DATABASE_URL", "");
    })
    .json_error();
    assert_eq!(error["kind"], "no_database");
}

/// Names, channels, channel arguments and payloads with control and bidi
/// characters are shown escaped in text, and exact in JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_and_bidi_characters_are_escaped_in_text() {
    let fx = Fixture::new().await;
    let name = "invoice\u{202e}fdp.exe";
    let channel = "mail\u{2066}box\u{1b}[2J";
    let id = fx
        .spawn(
            job(name, channel)
                .set_channel_args("a\u{200f}b\u{85}")
                .set_json(&serde_json::json!({"note": "x\u{202e}y\u{9b}z\u{7}"}))
                .unwrap(),
        )
        .await;
    let raw = |text: &str| {
        text.chars().any(|c| {
            c.is_control() && c != '\n' || matches!(c, '\u{202e}' | '\u{2066}' | '\u{200f}')
        })
    };

    let list = fx.mq(&["list"]).ok().to_owned();
    assert!(!raw(&list), "{list:?}");
    assert!(list.contains("invoice\\u{202e}fdp.exe"), "{list}");
    assert!(list.contains("mail\\u{2066}box\\u{1b}[2J"), "{list}");

    let show = fx.mq(&["show", &id.to_string()]).ok().to_owned();
    assert!(!raw(&show), "{show:?}");
    for expected in [
        "invoice\\u{202e}fdp.exe",
        "mail\\u{2066}box\\u{1b}[2J",
        "a\\u{200f}b\\u{85}",
        // Still valid JSON: JSON escapes.
        r#""note": "x\u202ey\u009bz\u0007""#,
    ] {
        assert!(show.contains(expected), "{expected} missing from:\n{show}");
    }

    let status = fx.mq(&["status"]).ok().to_owned();
    assert!(!raw(&status), "{status:?}");
    assert!(status.contains("mail\\u{2066}box\\u{1b}[2J"), "{status}");

    // JSON is exact.
    let listed = fx.mq(&["list", "--json"]).json();
    assert_eq!(listed["jobs"][0]["name"], name);
    assert_eq!(listed["jobs"][0]["channel_name"], channel);
    let shown = fx.mq(&["show", &id.to_string(), "--json"]).json();
    assert_eq!(shown["channel_args"], "a\u{200f}b\u{85}");
    assert_eq!(shown["payload_json"]["note"], "x\u{202e}y\u{9b}z\u{7}");

    // Errors too: clap repeats the bad value, and so does a not-found id.
    let ran = fx.mq(&["show", "ab\u{202e}cd"]);
    let stderr = ran.fails(2);
    assert!(!raw(stderr), "{stderr:?}");
    assert!(stderr.contains("ab\\u{202e}cd"), "{stderr}");
    let ran = fx.mq(&["list", "--channel", "c\u{202e}", "--limit", "x\u{202e}"]);
    let stderr = ran.fails(2);
    assert!(!raw(stderr), "{stderr:?}");
}

/// The value of a `name: value` line of `mq show`'s text.
fn field<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':').map(str::trim))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_lists_each_schedule_with_its_leader() {
    let fx = Fixture::new().await;
    assert_eq!(fx.mq(&["schedules"]).ok(), "no schedules\n");
    assert_eq!(
        fx.mq(&["--json", "schedules"]).json()["schedules"],
        serde_json::json!([])
    );

    let registry = JobRegistry::new(&[]);
    let nightly = Schedule::cron("report", "0 0 3 * * *")
        .unwrap()
        .set_time_zone("Europe/Paris")
        .unwrap()
        .set_name("nightly <b>")
        .unwrap();
    registry.add_schedule(nightly);
    let mut runner = registry.runner(&fx.pool).run().await.unwrap();
    let start = Instant::now();
    let listed = loop {
        let json = fx.mq(&["--json", "schedules"]).json();
        if json["schedules"][0]["leader"].is_string() {
            break json["schedules"][0].clone();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never led: {json}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(listed["name"], "nightly <b>");
    assert_eq!(listed["job_name"], "report");
    assert_eq!(listed["expression"], "0 0 3 * * *");
    assert_eq!(listed["time_zone"], "Europe/Paris");
    assert_eq!(listed["missed"], "run latest");
    assert!(listed["last_run_at"].is_null());
    // In force since its runner first declared it, which it has done since.
    let defined = listed["defined_at"].as_str().expect("defined_at");
    assert!(
        defined <= listed["declared_at"].as_str().unwrap(),
        "{listed}"
    );
    // 3 a.m. in Paris is 01:00 or 02:00 UTC.
    let next = listed["next_run_at"].as_str().unwrap();
    assert!(
        next.contains("T01:00:00Z") || next.contains("T02:00:00Z"),
        "{next}"
    );

    let text = fx.mq(&["schedules"]).ok().to_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("SCHEDULE")
            && lines[0].contains("IN FORCE SINCE")
            && lines[0].contains("LEADER"),
        "{text}"
    );
    assert!(lines[1].starts_with("nightly <b>"), "{text}");
    assert!(lines[1].contains("0 0 3 * * * (Europe/Paris)"), "{text}");
    assert!(
        lines[1].contains(listed["leader"].as_str().unwrap()),
        "{text}"
    );

    // A stopped runner gives its lease up.
    runner.stop().await;
    let json = fx.mq(&["--json", "schedules"]).json();
    assert!(json["schedules"][0]["leader"].is_null(), "{json}");
    assert!(
        fx.mq(&["schedules"])
            .ok()
            .lines()
            .nth(1)
            .unwrap()
            .ends_with("none")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_set_listed_shown_and_removed() {
    let fx = Fixture::new().await;
    assert_eq!(fx.mq(&["limits"]).ok(), "no limits\n");
    fx.spawn(&mut job("call", "api")).await;
    fx.spawn(job("call", "api").set_channel_args("acme")).await;

    const SET: [&str; 9] = [
        "limit",
        "api",
        "--concurrency",
        "2",
        "--rate",
        "10",
        "--per",
        "1m",
        "--per-args",
    ];
    assert_eq!(fx.mq(&SET).ok(), "set the limit of channel api\n");
    assert!(fx.mq(&SET).ok().starts_with("unchanged"));
    let text = fx.mq(&["limits"]).ok().to_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("CHANNEL") && lines[0].contains("WAITING"),
        "{text}"
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        row,
        ["api", "each", "args", "2", "10/1m", "0", "0", "2"],
        "{text}"
    );
    let json = fx.mq(&["--json", "limits"]).json();
    let limit = &json["limits"][0];
    assert_eq!(limit["channel_name"], "api");
    assert_eq!(limit["per_args"], true);
    assert_eq!(limit["concurrency"], 2);
    assert_eq!(limit["rate"]["count"], 10);
    assert_eq!(limit["rate"]["period_secs"], 60.0);
    assert_eq!(limit["waiting"], 2);

    let status = fx.mq(&["status"]).ok().to_owned();
    assert!(
        status.contains(
            "limited channels: api (0/2 running, 0/10 started per 1m, 2 waiting, per args)"
        ),
        "{status}"
    );
    assert_eq!(
        fx.mq(&["--json", "status"]).json()["limits"][0]["channel_name"],
        "api"
    );

    // A limit needs a concurrency or a rate; a rate needs its window.
    assert!(fx.mq(&["limit", "api"]).fails(1).contains("concurrency"));
    fx.mq(&["limit", "api", "--rate", "5"]).fails(2);
    assert_eq!(
        fx.mq(&["limit", "api", "--remove"]).ok(),
        "removed the limit of channel api\n"
    );
    assert_eq!(
        fx.mq(&["limit", "api", "--remove"]).ok(),
        "channel api had no limit\n"
    );
    assert_eq!(fx.mq(&["limits"]).ok(), "no limits\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runners_lists_the_runners_and_the_last_hours_counts() {
    let fx = Fixture::new().await;
    assert_eq!(
        fx.mq(&["runners"]).ok(),
        "no runners\nlast hour: 0 completed, 0 retried, 0 failed\n"
    );
    let mut runner = JobRunnerOptions::new(&fx.pool, |job| {
        tokio::spawn(async move {
            let mut job = job;
            job.complete().await.unwrap();
        });
    })
    .set_name("worker <1>")
    .set_activity_interval(Some(Duration::from_millis(20)))
    .run()
    .await
    .unwrap();
    for _ in 0..3 {
        fx.spawn(&mut job("quick", "c")).await;
    }
    let start = Instant::now();
    let json = loop {
        let json = fx.mq(&["--json", "runners"]).json();
        if json["last_hour"]["completed"] == 3 {
            break json;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{json}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(json["runners"][0]["name"], "worker <1>");
    assert_eq!(json["runners"][0]["max_concurrency"], 128);
    let text = fx.mq(&["runners"]).ok().to_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("RUNNER") && lines[0].contains("RUNNING"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("worker <1>") && lines[1].ends_with("/128"),
        "{text}"
    );
    assert_eq!(lines[2], "last hour: 3 completed, 0 retried, 0 failed");

    runner.stop().await;
    let start = Instant::now();
    while fx.mq(&["runners"]).ok().starts_with("RUNNER") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the runner stays listed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends a GET for `path` to `address`, with an `Authorization` header if
/// given; returns the status line and the body.
fn http_get(address: &str, path: &str, authorization: Option<&str>) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let auth =
        authorization.map_or_else(String::new, |value| format!("Authorization: {value}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{auth}\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or("").to_owned(),
        body.to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_is_served_behind_its_credentials_until_interrupted() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let fx = Fixture::new().await;
    fx.spawn(&mut job("greet", "mail <i>")).await;

    // No action on the network without credentials, and credentials are
    // a user and a password.
    let open = fx.mq(&["dashboard", "--listen", "0.0.0.0:0"]);
    assert!(open.fails(2).contains("without --auth"), "{}", open.stderr);
    let bad = fx.mq(&["dashboard", "--auth", "admin"]);
    assert!(bad.fails(2).contains("USER:PASSWORD"), "{}", bad.stderr);

    let mut child = Command::new(env!("CARGO_BIN_EXE_mq"))
        .args(["dashboard", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", fx.db.url())
        .env("MQ_DASHBOARD_AUTH", "admin:s3cret")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();

    let (status, _) = http_get(&address, "/channels", None);
    assert!(status.contains(" 401 "), "{status}");
    // base64("admin:s3cret")
    let (status, body) = http_get(&address, "/jobs", Some("Basic YWRtaW46czNjcmV0"));
    assert!(status.contains(" 200 "), "{status}");
    assert!(body.contains("mail &lt;i&gt;"), "{body}");

    // Ctrl-C stops it cleanly.
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(rest, "dashboard stopped\n");
}
