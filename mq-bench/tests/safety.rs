//! mq-bench loads the server it is given for up to an hour and creates
//! databases there: it runs only on a server named on its command line,
//! with `--yes`, and leaves no database behind, even when interrupted.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection;

fn bench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mq-bench"))
}

async fn database_exists(name: &str) -> bool {
    let mut conn = sqlx::PgConnection::connect(&mq_test_db::server_url())
        .await
        .unwrap();
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    exists
}

#[tokio::test]
async fn says_what_it_would_do_and_does_nothing_without_a_named_server_and_yes() {
    let existed = database_exists("mq_bench_raw").await;
    let server = mq_test_db::server_url();
    // DATABASE_URL is set (the tests need it), yet not read; and a named
    // server without --yes does not run either.
    for args in [
        vec!["--quick", "--systems", "raw"],
        vec!["--quick", "--systems", "raw", "--database-url", &server],
    ] {
        let out = bench().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("mq-bench would run a smoke test"),
            "{stderr}"
        );
        assert!(stderr.contains("mq_bench_raw"), "{stderr}");
        assert!(stderr.contains("--yes"), "{stderr}");
        assert!(out.stdout.is_empty(), "no report without --yes");
    }
    assert_eq!(
        database_exists("mq_bench_raw").await,
        existed,
        "a database was created without --yes"
    );
}

#[tokio::test]
async fn drops_its_databases_when_interrupted() {
    let server = mq_test_db::server_url();
    // Left by an older run, it would be seen before this run created it.
    let mut conn = sqlx::PgConnection::connect(&server).await.unwrap();
    sqlx::raw_sql("DROP DATABASE IF EXISTS mq_bench_mq WITH (FORCE)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let mut child = bench()
        .args(["--quick", "--yes", "--database-url", &server])
        .args(["--systems", "mq-sqlx", "--scenarios", "latency"])
        .args(["--latency-secs", "120"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt it once it has created its database.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !database_exists("mq_bench_mq").await {
        assert!(
            Instant::now() < deadline,
            "mq-bench never created its database"
        );
        assert!(child.try_wait().unwrap().is_none(), "mq-bench ended early");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("dropped the databases mq_bench_mq"),
        "{stderr}"
    );
    assert!(
        !database_exists("mq_bench_mq").await,
        "the database outlived the interrupted run"
    );
}
