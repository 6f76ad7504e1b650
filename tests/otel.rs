//! Feature `otel`: a job spawned inside a traced request stores the trace,
//! and each attempt's `mq.job` span continues it, so that one trace shows
//! the request, the spawn and every attempt. On the in-memory backend and
//! on PostgreSQL (mq-sqlx), with an in-memory exporter.
//!
//! The subscriber is the process's global one, since runners run jobs on
//! the runtime's threads; each test tells its spans from the others' by
//! their job ids and trace ids.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mq::testing::MemoryBackend;
use mq::{BoxError, CurrentJob, Executor, JobBuilder, JobRegistry, Uuid, job};
use mq_test_db::TestDb;
use opentelemetry::Value;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use sqlx::PgPool;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

/// Fails its first attempt and completes its second; each attempt opens a
/// `work` span, which the `mq.job` span should hold.
#[job(retries = 1, backoff_secs = 0.01)]
async fn flaky(mut job: CurrentJob) -> Result<(), BoxError> {
    tracing::info_span!("work").in_scope(|| tracing::info!("working"));
    if job.attempt() == 1 {
        return Err("the first attempt fails".into());
    }
    job.complete().await?;
    Ok(())
}

struct Tracing {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
}

/// The exporter every span of this process goes to (installed once).
fn tracing() -> &'static Tracing {
    static TRACING: OnceLock<Tracing> = OnceLock::new();
    TRACING.get_or_init(|| {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("mq-tests"));
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .expect("no other subscriber in this test binary");
        Tracing { exporter, provider }
    })
}

/// Every span ended so far, flushed.
fn finished_spans() -> Vec<SpanData> {
    let tracing = tracing();
    tracing.provider.force_flush().expect("flush");
    tracing.exporter.get_finished_spans().expect("spans")
}

/// Waits until `pick` finds what it looks for among the finished spans.
async fn wait_for_spans<T>(what: &str, pick: impl Fn(&[SpanData]) -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = pick(&finished_spans()) {
            return found;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}; spans: {:#?}",
            summary(&finished_spans())
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn summary(spans: &[SpanData]) -> Vec<String> {
    spans
        .iter()
        .map(|s| {
            format!(
                "{} trace {} span {} parent {} {:?}",
                s.name,
                s.span_context.trace_id(),
                s.span_context.span_id(),
                s.parent_span_id,
                s.attributes
            )
        })
        .collect()
}

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn of_job(span: &SpanData, name: &str, id: Uuid) -> bool {
    span.name == name && attribute(span, "job.id") == Some(Value::from(id.to_string()))
}

/// The `mq.job` spans of job `id`, once there are `count`, by attempt.
async fn attempt_spans(id: Uuid, count: usize) -> Vec<SpanData> {
    let mut spans = wait_for_spans(&format!("{count} attempts of job {id}"), |spans| {
        let attempts: Vec<SpanData> = spans
            .iter()
            .filter(|s| of_job(s, "mq.job", id))
            .cloned()
            .collect();
        (attempts.len() >= count).then_some(attempts)
    })
    .await;
    assert_eq!(spans.len(), count, "attempts of job {id}");
    spans.sort_by_key(|s| match attribute(s, "job.attempt") {
        Some(Value::I64(n)) => n,
        other => panic!("no attempt number: {other:?}"),
    });
    spans
}

/// The `work` spans opened inside the attempts `attempts`.
fn work_spans(attempts: &[SpanData]) -> Vec<SpanData> {
    finished_spans()
        .into_iter()
        .filter(|s| {
            s.name == "work"
                && attempts.iter().any(|a| {
                    a.span_context.span_id() == s.parent_span_id
                        && a.span_context.trace_id() == s.span_context.trace_id()
                })
        })
        .collect()
}

/// The ids of a span: its trace and itself.
fn ids_of(span: &tracing::Span) -> (TraceId, SpanId) {
    let context = span.context();
    let otel = context.span();
    let ids = otel.span_context();
    assert!(ids.is_valid(), "the span is not traced");
    (ids.trace_id(), ids.span_id())
}

/// Spawns `flaky` inside a `request` span, and checks what it stored: the
/// context of a `mq.spawn` span, child of the request. Returns the job's
/// id, the request's trace and the `mq.spawn` span's id.
async fn spawn_in_a_request<D, E: Executor<D> + Copy>(executor: E) -> (Uuid, TraceId, SpanId) {
    let request = tracing::info_span!("request");
    let (trace, request_id) = ids_of(&request);
    let id = flaky
        .builder()
        .spawn(executor)
        .instrument(request.clone())
        .await
        .unwrap();
    drop(request);

    let spawn = wait_for_spans("the spawn span", |spans| {
        spans.iter().find(|s| of_job(s, "mq.spawn", id)).cloned()
    })
    .await;
    assert_eq!(spawn.span_context.trace_id(), trace);
    assert_eq!(spawn.parent_span_id, request_id);
    let spawn_id = spawn.span_context.span_id();
    let stored = mq::admin::get(executor, id)
        .await
        .unwrap()
        .expect("the job is stored")
        .trace_context;
    assert_eq!(stored, Some(format!("00-{trace}-{spawn_id}-01")));
    (id, trace, spawn_id)
}

/// Spawns `flaky` outside any span: it stores no trace.
async fn spawn_outside_a_trace<D, E: Executor<D> + Copy>(executor: E) -> Uuid {
    let id = flaky.builder().spawn(executor).await.unwrap();
    let stored = mq::admin::get(executor, id).await.unwrap().unwrap();
    assert_eq!(stored.trace_context, None);
    id
}

/// Both attempts of the traced job are children of its `mq.spawn` span, in
/// the request's trace, and hold the job's own spans.
async fn check_traced_attempts(id: Uuid, trace: TraceId, spawn: SpanId) {
    let attempts = attempt_spans(id, 2).await;
    for (n, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt.span_context.trace_id(), trace, "attempt {}", n + 1);
        assert_eq!(attempt.parent_span_id, spawn, "attempt {}", n + 1);
        assert!(attempt.parent_span_is_remote, "attempt {}", n + 1);
    }
    assert_ne!(
        attempts[0].span_context.span_id(),
        attempts[1].span_context.span_id()
    );
    let work = work_spans(&attempts);
    assert_eq!(work.len(), 2, "{:#?}", summary(&work));
    assert!(work.iter().all(|s| s.span_context.trace_id() == trace));
}

/// Both attempts of the untraced job start traces of their own.
async fn check_untraced_attempts(id: Uuid, traced: TraceId) {
    let attempts = attempt_spans(id, 2).await;
    for attempt in &attempts {
        assert_eq!(attempt.parent_span_id, SpanId::INVALID);
        assert_ne!(attempt.span_context.trace_id(), traced);
    }
    assert_ne!(
        attempts[0].span_context.trace_id(),
        attempts[1].span_context.trace_id()
    );
    assert!(
        !finished_spans().iter().any(|s| of_job(s, "mq.spawn", id)),
        "a spawn outside any trace made a spawn span"
    );
    assert_eq!(work_spans(&attempts).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_continue_the_request_trace_on_the_memory_backend() {
    tracing();
    let backend = MemoryBackend::new();
    let (traced, trace, spawn) = spawn_in_a_request(&backend).await;
    let untraced = spawn_outside_a_trace(&backend).await;
    let _runner = JobRegistry::new(&[flaky])
        .runner(&backend)
        .run()
        .await
        .unwrap();
    check_traced_attempts(traced, trace, spawn).await;
    check_untraced_attempts(untraced, trace).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_continue_the_request_trace_on_postgres() {
    tracing();
    let db = TestDb::create();
    let pool = PgPool::connect(db.url()).await.unwrap();
    mq::migrate(&pool).await.unwrap();
    let (traced, trace, spawn) = spawn_in_a_request(&pool).await;
    let untraced = spawn_outside_a_trace(&pool).await;
    let _runner = JobRegistry::new(&[flaky])
        .runner(&pool)
        .set_poll_interval(Duration::from_millis(50))
        .run()
        .await
        .unwrap();
    check_traced_attempts(traced, trace, spawn).await;
    check_untraced_attempts(untraced, trace).await;
}

/// A batch spawned in a request shares one `mq.spawn` span; a job given a
/// context of its own keeps it, and one given none stores none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_shares_its_spawn_and_explicit_contexts_win() {
    tracing();
    let backend = MemoryBackend::new();
    const OWN: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    let mut own = JobBuilder::new("own");
    own.set_trace_context(Some(OWN.to_owned()));
    let mut none = JobBuilder::new("none");
    none.set_trace_context(None);
    let batch = [JobBuilder::new("a"), JobBuilder::new("b"), own, none];
    let request = tracing::info_span!("request");
    let (trace, request_id) = ids_of(&request);
    let ids = mq::spawn_many(&backend, &batch)
        .instrument(request.clone())
        .await
        .unwrap();
    drop(request);

    let spawn = wait_for_spans("the batch's spawn span", |spans| {
        spans
            .iter()
            .find(|s| {
                s.name == "mq.spawn"
                    && s.parent_span_id == request_id
                    && attribute(s, "jobs") == Some(Value::I64(4))
            })
            .cloned()
    })
    .await;
    assert_eq!(spawn.span_context.trace_id(), trace);
    let spawned = format!("00-{trace}-{}-01", spawn.span_context.span_id());
    let mut stored = Vec::new();
    for id in ids {
        let job = mq::admin::get(&backend, id).await.unwrap().unwrap();
        stored.push(job.trace_context);
    }
    assert_eq!(
        stored,
        [
            Some(spawned.clone()),
            Some(spawned),
            Some(OWN.to_owned()),
            None
        ]
    );
}
