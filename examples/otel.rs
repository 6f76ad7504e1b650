//! Tracing across spawn and run (feature `otel`): a job spawned while a
//! request is traced runs in the request's trace. Spawns one job inside a
//! traced `sign_up`, runs it (its first attempt fails), and prints the
//! trace's spans as a tree.
//!
//! ```text
//! scripts/run-example.sh otel      (on a throwaway PostgreSQL)
//! DATABASE_URL=postgres://localhost/mq cargo run --example otel --features otel
//! ```

use std::time::{Duration, Instant};

use mq::{CurrentJob, JobRegistry, job};
use opentelemetry::trace::{SpanId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData, SpanExporter};
use sqlx::PgPool;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[job(retries = 1, backoff_secs = 0.1)]
async fn send_welcome(mut job: CurrentJob) -> Result<(), mq::BoxError> {
    let email: String = job.json()?.ok_or("no address")?;
    if job.attempt() == 1 {
        return Err("the mail server is busy".into());
    }
    tracing::info_span!("smtp", %email).in_scope(|| tracing::info!("sent"));
    job.complete().await?;
    Ok(())
}

/// Sends `tracing`'s spans to OpenTelemetry, through `exporter` (OTLP...).
fn init_tracing(exporter: impl SpanExporter + 'static) -> SdkTracerProvider {
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("my-app")))
        .init();
    provider
}

// The job stores the trace of the request that spawned it: its attempts,
// wherever they run, are children of the request's `mq.spawn` span.
#[tracing::instrument(skip(pool))]
async fn sign_up(pool: &PgPool, email: &str) -> mq::Result<()> {
    send_welcome.builder().set_json(email)?.spawn(pool).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // An exporter that keeps the spans, to print them below; yours would
    // send them to a collector.
    let exporter = InMemorySpanExporter::default();
    let provider = init_tracing(exporter.clone());
    let pool = PgPool::connect(&std::env::var("DATABASE_URL")?).await?;
    mq::migrate(&pool).await?;
    let mut runner = JobRegistry::new(&[send_welcome])
        .runner(&pool)
        .run()
        .await?;

    sign_up(&pool, "ada@example.com").await?;

    // Both attempts' spans end once the job has completed.
    let start = Instant::now();
    let spans = loop {
        provider.force_flush()?;
        let spans = exporter.get_finished_spans()?;
        if spans.iter().filter(|s| s.name == "mq.job").count() == 2 {
            break spans;
        }
        if start.elapsed() > Duration::from_secs(30) {
            return Err("the job did not run twice within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    runner.stop().await;
    print_tree(&spans, SpanId::INVALID, 0);
    Ok(())
}

/// Prints the children of `parent`, oldest first, and theirs below them.
fn print_tree(spans: &[SpanData], parent: SpanId, depth: usize) {
    let mut children: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.parent_span_id == parent)
        .collect();
    children.sort_by_key(|s| s.start_time);
    for span in children {
        let attempt = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "job.attempt")
            .map(|kv| format!(" (attempt {})", kv.value))
            .unwrap_or_default();
        let trace = match depth {
            0 => format!("  (trace {})", span.span_context.trace_id()),
            _ => String::new(),
        };
        println!(
            "{:indent$}{}{attempt}{trace}",
            "",
            span.name,
            indent = depth * 2
        );
        print_tree(spans, span.span_context.span_id(), depth + 1);
    }
}
