//! Eight processes migrating one empty database at once.

use std::process::Stdio;

use anyhow::Result;
use tokio::process::Command;

use super::Ctx;
use crate::client::Driver;
use crate::db::ScenarioDb;
use crate::report::{Report, count};

/// Runs the scenario.
pub async fn run(_ctx: &Ctx) -> Result<Report> {
    let processes = 8;
    let mut report = Report::new(
        super::Scenario::Migrate.title(),
        format!(
            "{processes} processes (both drivers alternately) call `mq::migrate` on one empty database \
             at the same moment."
        ),
    );
    let db = ScenarioDb::create(false).await?;
    let exe = std::env::current_exe()?;
    let children = (0..processes)
        .map(|i| {
            Command::new(&exe)
                .arg("migrate")
                .args(["--driver", Driver::alternate(i).name()])
                .args(["--url", db.url()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let mut failures = Vec::new();
    for child in children {
        let output = child.wait_with_output().await?;
        if !output.status.success() {
            failures.push(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
    }
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM mq_migrations ORDER BY version")
            .fetch_all(&db.pool)
            .await?;
    let expected: Vec<i64> = mq_sql::MIGRATIONS.iter().map(|m| m.version).collect();
    report.fact(
        "processes that succeeded",
        format!("{} of {processes}", processes - failures.len()),
    );
    report.fact("migrations recorded", count(versions.len() as i64));
    report.check(
        failures.is_empty(),
        format!(
            "every process migrated without error{}",
            failures
                .first()
                .map_or(String::new(), |f| format!(" (first error: {f})"))
        ),
    );
    report.check(
        versions == expected,
        format!("each migration was applied and recorded once (recorded {versions:?}, expected {expected:?})"),
    );
    Ok(report)
}
