//! Measures the overview over a million jobs, which must answer in under
//! 100 ms: it renders the background count, and never counts in the
//! request; and pages of the job list, held to the same bound. Inserting the jobs takes a minute or two, so this is an
//! example rather than a test; its results are in the README's dashboard
//! section. It makes a database of its own on the server of
//! `DATABASE_URL`:
//!
//! ```sh
//! cargo run -p mq-dashboard --release --example scale
//! ```

use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use futures::StreamExt;
use mq::{JobBuilder, JobState};
use mq_test_db::TestDb;
use tower::ServiceExt;

const JOBS: usize = 1_000_000;
const BATCH: usize = 10_000;
const CHANNELS: usize = 20;
const LIMIT: Duration = Duration::from_millis(100);

async fn get(router: &axum::Router, uri: &str) -> (Duration, String) {
    let started = Instant::now();
    let response = router
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (started.elapsed(), String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let db = TestDb::create();
    let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
    mq::migrate(&pool).await.unwrap();

    let started = Instant::now();
    let mut jobs = Vec::with_capacity(BATCH);
    for batch in 0..JOBS / BATCH {
        jobs.clear();
        for i in 0..BATCH {
            let mut job = JobBuilder::new("scale");
            job.set_channel_name(format!("channel-{}", (batch * BATCH + i) % CHANNELS));
            jobs.push(job);
        }
        mq::spawn_many(&pool, &jobs).await.unwrap();
    }
    sqlx::query("VACUUM ANALYZE mq_jobs")
        .execute(&pool)
        .await
        .unwrap();
    println!("{JOBS} jobs spawned in {:?}", started.elapsed());

    let counted = Instant::now();
    let stats = mq::admin::stats(&pool).await.unwrap();
    println!("admin::stats takes {:?}", counted.elapsed());
    assert_eq!(stats.total(JobState::Ready), JOBS as u64);

    let router = mq_dashboard::router(&pool);
    // The first request does not wait for the count.
    let (took, body) = get(&router, "/").await;
    println!("first overview: {took:?}");
    assert!(body.contains("Counting"));
    assert!(took < LIMIT, "the first overview took {took:?}");

    // Once the count landed, the overview shows it, as fast.
    let response = router
        .clone()
        .oneshot(Request::get("/live").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let mut events = response.into_body().into_data_stream();
    tokio::time::timeout(Duration::from_secs(60), events.next())
        .await
        .expect("a count within a minute");
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        for uri in ["/", "/channels"] {
            let (took, body) = get(&router, uri).await;
            if uri == "/" {
                assert!(body.contains("1\u{202f}000\u{202f}000"), "{body}");
            }
            slowest = slowest.max(took);
        }
    }
    println!("slowest of 40 overview and channels pages: {slowest:?}");
    assert!(slowest < LIMIT, "a page took {slowest:?}");

    // The job list reads a page by walking the primary key from its
    // cursor: the first page, a later one, and filtered pages (a channel
    // of a twentieth of the jobs; a state no job is in).
    for uri in [
        "/jobs",
        "/jobs?channel=channel-3",
        "/jobs?state=failed",
        "/jobs?channel=channel-3&state=ready&name=scale",
    ] {
        let (took, _) = get(&router, uri).await;
        println!("job list {uri}: {took:?}");
        assert!(took < LIMIT, "{uri} took {took:?}");
    }
}
