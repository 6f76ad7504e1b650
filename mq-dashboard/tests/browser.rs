//! The dashboard in a real browser: headless Chromium, driven through
//! WebDriver (Debian's `chromium` and `chromium-driver`; `scripts/test.sh`
//! installs them when missing), against a real PostgreSQL. An operator
//! loads the overview, finds a failed job, opens it, retries it and sees
//! it ready; jobs run, and the chart moves without a reload.
//!
//! With `MQ_SCREENSHOTS_DIR` set, each page is also saved there as a PNG
//! (`scripts/screenshots.sh` makes the README's).

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use mq::admin;
use mq::{JobBuilder, JobRunnerOptions, JobState};
use mq_test_db::TestDb;
use serde_json::json;

/// How long anything may take to show.
const PATIENCE: Duration = Duration::from_secs(30);

/// A chromedriver process on a free port, killed when dropped.
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    fn start() -> Self {
        let binary = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
        let port = StdListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(&binary)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {binary} ({e}): install chromium-driver, or set CHROMEDRIVER")
            });
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    async fn client(&self) -> Client {
        let mut options = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1100", "--no-proxy-server"],
        });
        if std::path::Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        // WebDriver is spoken over plain HTTP here, but the client is
        // built with TLS, whose provider must be chosen when rustls has
        // more than one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        ClientBuilder::rustls()
            .expect("a TLS configuration")
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a browser session")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Saves the page as `name.png` when screenshots are asked for.
async fn screenshot(client: &Client, name: &str) {
    let Some(dir) = std::env::var_os("MQ_SCREENSHOTS_DIR") else {
        return;
    };
    let png = client.screenshot().await.expect("a screenshot");
    let path = PathBuf::from(dir).join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("cannot write {path:?}: {e}"));
}

/// The text of the first element matching `css`, once it contains
/// `wanted` (reloading the page between looks if `reload`).
async fn wait_text(
    client: &Client,
    css: &str,
    reload: bool,
    wanted: impl Fn(&str) -> bool,
) -> String {
    let started = Instant::now();
    loop {
        let text = match client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if wanted(&text) {
            return text;
        }
        if started.elapsed() > PATIENCE {
            let source = client.source().await.unwrap_or_default();
            panic!("{css} never showed what was awaited; it shows:\n{text}\nthe page:\n{source}");
        }
        if reload {
            client.refresh().await.expect("reloads");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The chart's total, from its legend ("Total: 12").
fn chart_total(text: &str) -> Option<u64> {
    text.split("Total: ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_retries_a_failed_job_and_watches_jobs_run() {
    let db = TestDb::create();
    let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
    mq::migrate(&pool).await.unwrap();

    // A job that fails for good: its runner drops it, and it has no retry.
    let failed = JobBuilder::new("nightly_report")
        .set_channel_name("reports")
        .set_retries(0)
        .set_json(&json!({ "day": "2026-11-30" }))
        .unwrap()
        .spawn(&pool)
        .await
        .unwrap();
    let mut dropping = JobRunnerOptions::new(&pool, drop)
        .set_channel_names(&["reports"])
        .set_poll_interval(Duration::from_millis(50))
        .set_activity_interval(Some(Duration::from_millis(100)))
        .run()
        .await
        .unwrap();
    let started = Instant::now();
    while admin::get(&pool, failed).await.unwrap().unwrap().state != JobState::Failed {
        assert!(started.elapsed() < PATIENCE, "the job never failed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    dropping.stop().await;
    for i in 0..3 {
        JobBuilder::new("send_email")
            .set_channel_name("emails")
            .set_json(&json!({ "to": format!("user{i}@example.com") }))
            .unwrap()
            .spawn(&pool)
            .await
            .unwrap();
    }

    // The dashboard, nested in an app as a host would.
    let app = axum::Router::new().nest("/admin/jobs", mq_dashboard::router(&pool));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let base = format!("http://{address}/admin/jobs");

    let driver = Chromedriver::start();
    let client = driver.client().await;

    // The overview: counts per channel, once the first count landed
    // (pushed to the page without a reload).
    client.goto(&base).await.unwrap();
    let live = wait_text(&client, "#live", false, |text| text.contains("reports")).await;
    assert!(live.contains("emails"), "{live}");
    let before = chart_total(&live).expect("the chart's total");
    screenshot(&client, "overview").await;

    // The failed job, found from the job list.
    client
        .goto(&format!("{base}/jobs?state=failed"))
        .await
        .unwrap();
    screenshot(&client, "jobs").await;
    client
        .find(Locator::LinkText("nightly_report"))
        .await
        .expect("the failed job is listed")
        .click()
        .await
        .unwrap();
    let title = wait_text(&client, "h1", false, |text| text.contains("nightly_report")).await;
    assert!(title.contains("failed"), "{title}");
    let page = client
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("2026-11-30"), "the payload is shown: {page}");
    screenshot(&client, "job").await;

    client
        .find(Locator::XPath(
            "//form[contains(@action, '/retry')]//button",
        ))
        .await
        .expect("a retry button")
        .click()
        .await
        .unwrap();
    let title = wait_text(&client, "h1", false, |text| text.contains("ready")).await;
    assert!(title.contains("nightly_report"), "{title}");
    assert_eq!(
        admin::get(&pool, failed).await.unwrap().unwrap().state,
        JobState::Ready
    );

    // Jobs run, and the chart on the open overview moves by itself.
    client.goto(&base).await.unwrap();
    wait_text(&client, "#live", false, |text| chart_total(text).is_some()).await;
    let _runner = JobRunnerOptions::new(&pool, |mut job| {
        tokio::spawn(async move { job.complete().await.unwrap() });
    })
    .set_poll_interval(Duration::from_millis(50))
    .set_activity_interval(Some(Duration::from_millis(100)))
    .run()
    .await
    .unwrap();
    // The three emails and the retried report.
    let moved = wait_text(&client, "#live", false, |text| {
        chart_total(text).is_some_and(|total| total >= before + 4)
    })
    .await;
    assert!(
        moved.contains("Runners") || moved.contains("runner"),
        "{moved}"
    );
    screenshot(&client, "overview-after").await;

    // A channel paused from its page: its jobs wait.
    JobBuilder::new("weekly_digest")
        .set_channel_name("newsletters")
        .set_delay(Duration::from_secs(3600))
        .spawn(&pool)
        .await
        .unwrap();
    client.goto(&format!("{base}/channels")).await.unwrap();
    wait_text(&client, "main", true, |text| text.contains("newsletters")).await;
    client
        .find(Locator::XPath(
            "//form[contains(@action, '/channels/pause')]//button",
        ))
        .await
        .expect("a pause button")
        .click()
        .await
        .unwrap();
    wait_text(&client, "main", true, |text| text.contains("paused")).await;
    assert!(admin::stats(&pool).await.unwrap().is_paused("newsletters"));
    screenshot(&client, "channels").await;
    client.close().await.unwrap();
}
