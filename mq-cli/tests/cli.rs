//! The `mq` binary against a real PostgreSQL: every command, in text and
//! in JSON, and its errors.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use mq::admin;
use mq::{JobBuilder, JobRunnerOptions, JobState, Uuid};
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
    fx.spawn(job("report", "reports").set_ordered(true)).await;

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
                .set_retries(0),
        )
        .await;
    fx.fail_jobs("bad", &[id]).await;

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
    assert_eq!(job["errors"][0]["attempt"], 1);
    assert_eq!(
        job["errors"][0]["error"],
        "the job was dropped without completing"
    );
    assert!(job["errors"][0]["at"].as_str().unwrap().ends_with('Z'));

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
    assert_eq!(run.stdout, "retried 1 job(s)\n");
    let stderr = run.fails(1);
    assert!(
        stderr
            .contains("1 of the given jobs were not failed (or do not exist), so were not retried"),
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
    assert_eq!(
        fx.mq(&["retry", "--failed"]).ok(),
        "retried 1 failed job(s)\n"
    );
    assert_eq!(fx.state(failed[2]).await, Some(JobState::Ready));

    let unknown = Uuid::now_v7();
    let error = fx
        .mq(&["retry", &unknown.to_string(), "--json"])
        .json_error();
    assert_eq!(error["kind"], "partial");
    let stderr = fx.mq(&["retry"]).fails(2).to_owned();
    assert!(stderr.contains("--failed"), "{stderr}");
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

    assert_eq!(
        fx.mq(&["delete", &a1.to_string()]).ok(),
        "deleted 1 job(s)\n"
    );
    assert_eq!(fx.state(a1).await, None);
    let run = fx.mq(&["delete", &a1.to_string(), &a2.to_string(), "--json"]);
    let deleted: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(deleted["deleted"], 1);
    assert_eq!(deleted["not_found"][0], a1.to_string());
    assert!(run.fails(1).contains("do not exist"));

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
        "pruned 0 failed or completed job(s) older than 7d\n"
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

    assert_eq!(
        fx.mq(&["clear", "--all", "--yes"]).ok(),
        "deleted 1 job(s)\n"
    );
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
    assert_eq!(mq(&["retry", "--failed"]).ok(), "retried 1 failed job(s)\n");
    assert_eq!(fx.state(id).await, Some(JobState::Ready));
    mq(&["delete", &other.to_string()]).ok();
    assert_eq!(fx.state(other).await, None);
}
