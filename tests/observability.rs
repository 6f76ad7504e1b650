//! Observability against PostgreSQL: the `mq.job` spans and events a
//! runner emits, and the metrics it exports.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use mq::{CurrentJob, JobRegistry, job};
use mq_test_db::TestDb;
use sqlx::PgPool;

/// A `tracing` writer that keeps everything written to it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[job(retries = 1, backoff_secs = 0.01)]
async fn observed(mut job: CurrentJob) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing::info!("inside the job");
    if job.attempt() == 1 {
        return Err("first attempt fails".into());
    }
    job.complete().await?;
    Ok(())
}

/// A metric's labels, as (key, value) pairs.
type Labels = Vec<(String, String)>;

/// Counter totals: the debugging recorder's snapshots hold what was added
/// since the previous snapshot, so they are summed here.
struct Totals {
    snapshotter: Snapshotter,
    seen: Vec<(String, Labels, u64)>,
    gauges: Vec<String>,
}

impl Totals {
    fn refresh(&mut self) {
        for (key, _, _, value) in self.snapshotter.snapshot().into_vec() {
            let name = key.key().name().to_owned();
            match value {
                DebugValue::Counter(n) => {
                    let labels = key
                        .key()
                        .labels()
                        .map(|l| (l.key().to_owned(), l.value().to_owned()))
                        .collect();
                    self.seen.push((name, labels, n));
                }
                DebugValue::Gauge(_) => self.gauges.push(name),
                DebugValue::Histogram(_) => {}
            }
        }
    }

    fn counter(&mut self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.refresh();
        self.seen
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, count)| count)
            .sum()
    }
}

// One test in this binary: it installs the process's global subscriber
// and recorder, which the runner's tasks on other threads report to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runners_report_spans_events_and_metrics() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let recorder = DebuggingRecorder::new();
    let mut totals = Totals {
        snapshotter: recorder.snapshotter(),
        seen: Vec::new(),
        gauges: Vec::new(),
    };
    recorder.install().unwrap();

    let db = TestDb::create();
    let pool = PgPool::connect(db.url()).await.unwrap();
    mq::migrate(&pool).await.unwrap();
    let _runner = JobRegistry::new(&[observed])
        .runner(&pool)
        .set_metrics(Arc::new(mq::metrics::MetricsExporter))
        .set_poll_interval(Duration::from_millis(50))
        .run()
        .await
        .unwrap();
    let id = observed.builder().spawn(&pool).await.unwrap();

    let start = Instant::now();
    while totals.counter("mq_jobs_finished_total", &[("outcome", "completed")]) < 1 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the job never completed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        totals.counter(
            "mq_jobs_finished_total",
            &[("name", "observed"), ("outcome", "retrying")]
        ),
        1
    );
    assert!(totals.counter("mq_jobs_claimed_total", &[]) >= 2);

    // Something in the queue for the depth gauges to show.
    mq::JobBuilder::new("later")
        .set_delay(Duration::from_secs(3600))
        .spawn(&pool)
        .await
        .unwrap();
    mq::metrics::record_queue_stats(&mq::admin::stats(&pool).await.unwrap());
    totals.refresh();
    assert!(
        totals.gauges.iter().any(|g| g == "mq_jobs_running"),
        "no mq_jobs_running gauge"
    );
    assert!(
        totals.gauges.iter().any(|g| g == "mq_queue_jobs"),
        "no mq_queue_jobs gauge"
    );
    assert!(
        mq::admin::get(&pool, id).await.unwrap().is_none(),
        "a completed job was kept"
    );

    let logs = captured.text();
    let id = id.to_string();
    let line_with = |needle: &str| {
        logs.lines()
            .find(|line| line.contains(needle) && line.contains(&id))
            .unwrap_or_else(|| panic!("no line with {needle:?} and the job id in:\n{logs}"))
            .to_owned()
    };
    assert!(line_with("spawned job").contains("job.name=observed"));
    let inside = line_with("inside the job");
    assert!(
        inside.contains("mq.job") && inside.contains("job.attempt=1"),
        "{inside}"
    );
    assert!(line_with("job attempt failed").contains("first attempt fails"));
    assert!(line_with("job finished").contains("outcome=completed"));
    assert!(logs.contains("claimed jobs"), "{logs}");
}
