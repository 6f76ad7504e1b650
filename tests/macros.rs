//! Behaviour of jobs declared with `#[job]`: the defaults their builders
//! carry, and how a registry runs them with their context values, on the
//! in-memory backend.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mq::BackendExt as _;
use mq::{BoxError, CurrentJob, JobBuilder, JobRegistry, JobState, job};
use mq_core::memory::MemoryBackend;
use tokio::sync::mpsc;

/// How long any wait in these tests may take before it counts as a hang.
const PATIENCE: Duration = Duration::from_secs(10);

fn backend() -> MemoryBackend {
    MemoryBackend::new()
}

/// Polls `condition` until it holds, failing the test after [`PATIENCE`].
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits until job `id` no longer exists: it was completed.
async fn wait_completed(backend: &MemoryBackend, id: mq::Uuid) {
    eventually("the job is completed", || async {
        backend.job_state(id).await.unwrap().is_none()
    })
    .await;
}

// ---------------------------------------------------------------------------
// Defaults carried by the builder
// ---------------------------------------------------------------------------

#[job]
async fn plain(mut job: CurrentJob) -> Result<(), BoxError> {
    job.complete().await?;
    Ok(())
}

#[job(
    name = "custom",
    channel_name = "foo",
    retries = 3,
    backoff_secs = 2.5,
    ordered
)]
async fn configured(mut job: CurrentJob) -> Result<(), BoxError> {
    job.complete().await?;
    Ok(())
}

#[job(ordered = true, backoff_secs = 10)]
async fn ordered_explicitly(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(ordered = false)]
async fn unordered_explicitly(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[test]
fn without_options_the_builder_has_the_builder_defaults() {
    assert_eq!(plain.name(), "plain");
    let builder = plain.builder();
    let expected = JobBuilder::new("plain");
    let (job, expected) = (builder.job(), expected.job());
    assert_eq!(job.name, "plain");
    assert_eq!(job.channel_name, expected.channel_name);
    assert_eq!(job.channel_args, expected.channel_args);
    assert_eq!(job.retries, expected.retries);
    assert_eq!(job.retry_backoff, expected.retry_backoff);
    assert_eq!(job.ordered, expected.ordered);
    assert_eq!(job.delay, expected.delay);
}

#[test]
fn options_set_the_builder_defaults() {
    assert_eq!(configured.name(), "custom");
    let builder = configured.builder();
    let job = builder.job();
    assert_eq!(job.name, "custom");
    assert_eq!(job.channel_name, "foo");
    assert_eq!(job.retries, 3);
    assert_eq!(job.retry_backoff, Duration::from_millis(2500));
    assert!(job.ordered);
}

#[test]
fn ordered_takes_a_bool_and_backoff_an_integer() {
    let builder = ordered_explicitly.builder();
    assert!(builder.job().ordered);
    assert_eq!(builder.job().retry_backoff, Duration::from_secs(10));
    assert!(!unordered_explicitly.builder().job().ordered);
}

#[test]
fn each_builder_is_fresh() {
    let (first, second) = (configured.builder(), configured.builder());
    assert_ne!(first.id(), second.id());
    let mut changed = configured.builder();
    changed.set_channel_name("elsewhere").set_retries(0);
    assert_eq!(changed.job().channel_name, "elsewhere");
    assert_eq!(configured.builder().job().channel_name, "foo");
}

fn email_proto(builder: &mut JobBuilder) -> &mut JobBuilder {
    builder
        .set_channel_name("proto-channel")
        .set_channel_args("proto-args")
        .set_retries(9)
        .set_retry_backoff(Duration::from_secs(7))
        .set_delay(Duration::from_secs(45))
}

#[job(proto(email_proto))]
async fn from_proto(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(proto(self::email_proto), retries = 1, channel_name = "override")]
async fn proto_overridden(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[test]
fn proto_applies() {
    let builder = from_proto.builder();
    let job = builder.job();
    assert_eq!(job.name, "from_proto");
    assert_eq!(job.channel_name, "proto-channel");
    assert_eq!(job.channel_args, "proto-args");
    assert_eq!(job.retries, 9);
    assert_eq!(job.retry_backoff, Duration::from_secs(7));
    assert_eq!(job.delay, Duration::from_secs(45));
}

#[test]
fn options_override_proto() {
    let builder = proto_overridden.builder();
    let job = builder.job();
    assert_eq!(job.channel_name, "override");
    assert_eq!(job.retries, 1);
    // What the options leave alone keeps the prototype's value.
    assert_eq!(job.channel_args, "proto-args");
    assert_eq!(job.retry_backoff, Duration::from_secs(7));
    assert_eq!(job.delay, Duration::from_secs(45));
}

mod nested {
    use mq::{BoxError, CurrentJob, job};

    /// Documented, and visible outside its module.
    #[job]
    pub(crate) async fn visible(_job: CurrentJob) -> Result<(), BoxError> {
        Ok(())
    }
}

#[job]
async fn r#type(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[test]
fn visibility_and_raw_names_carry_over() {
    assert_eq!(nested::visible.name(), "visible");
    assert_eq!(r#type.name(), "type");
    let registry = JobRegistry::new(&[nested::visible, r#type, plain, configured]);
    assert!(registry.resolve_job("visible").is_some());
    assert!(registry.resolve_job("type").is_some());
    assert!(registry.resolve_job("custom").is_some());
    assert!(registry.resolve_job("configured").is_none());
}

#[test]
fn jobs_can_be_declared_inside_functions() {
    #[job(channel_name = "local")]
    async fn local(_job: CurrentJob) -> Result<(), BoxError> {
        Ok(())
    }
    assert_eq!(local.builder().job().channel_name, "local");
}

// ---------------------------------------------------------------------------
// Running through a registry
// ---------------------------------------------------------------------------

/// What `greet` saw, sent back to the test.
#[derive(Debug, PartialEq)]
struct Greeting {
    text: String,
    number: i32,
    pair: (u8, bool),
}

#[job(channel_name = "greetings")]
async fn greet(
    mut job: CurrentJob,
    seen: mpsc::UnboundedSender<Greeting>,
    number: i32,
    greeting: &'static str,
    (small, flag): (u8, bool),
) -> Result<(), BoxError> {
    let who: Option<String> = job.json()?;
    seen.send(Greeting {
        text: format!("{greeting}, {}!", who.as_deref().unwrap_or("world")),
        number,
        pair: (small, flag),
    })?;
    job.complete().await?;
    Ok(())
}

#[tokio::test]
async fn a_registry_runs_a_job_with_its_context() {
    let backend = backend();
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel::<Greeting>();
    let mut registry = JobRegistry::new(&[greet]);
    registry
        .set_context(seen_tx)
        .set_context(42_i32)
        .set_context("Hello")
        .set_context((7_u8, true));
    let runner = registry.runner(&backend).run().await.unwrap();

    let id = greet
        .builder()
        .set_json("Ada")
        .unwrap()
        .spawn(&backend)
        .await
        .unwrap();
    let seen = tokio::time::timeout(PATIENCE, seen_rx.recv())
        .await
        .expect("the job did not run in time")
        .expect("the job dropped its sender");
    assert_eq!(
        seen,
        Greeting {
            text: "Hello, Ada!".to_owned(),
            number: 42,
            pair: (7, true),
        }
    );
    wait_completed(&backend, id).await;
    assert!(backend.is_empty());
    drop(runner);
}

/// A context shared by every run of `count_runs`: each run gets a clone of
/// the `Arc`, so they all count into the same vector.
#[derive(Clone, Default)]
struct Runs(Arc<Mutex<Vec<String>>>);

#[job]
async fn count_runs(mut job: CurrentJob, runs: Runs) -> mq::Result<()> {
    let label: String = job.json()?.unwrap_or_default();
    runs.0.lock().unwrap().push(label);
    job.complete().await
}

#[tokio::test]
async fn every_run_gets_a_clone_of_the_context() {
    let backend = backend();
    let runs = Runs::default();
    let mut registry = JobRegistry::new(&[count_runs]);
    registry.set_context(runs.clone());
    let runner = registry.runner(&backend).run().await.unwrap();

    let mut ids = Vec::new();
    for label in ["a", "b", "c"] {
        let id = count_runs
            .builder()
            .set_json(label)
            .unwrap()
            .spawn(&backend)
            .await
            .unwrap();
        ids.push(id);
    }
    for id in ids {
        wait_completed(&backend, id).await;
    }
    let mut seen = runs.0.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, ["a", "b", "c"]);
    drop(runner);
}

/// The job's own error type, which converts into a `BoxError`.
#[derive(Debug)]
struct Refused(&'static str);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused: {}", self.0)
    }
}

impl std::error::Error for Refused {}

#[job(retries = 0)]
async fn always_fails(_job: CurrentJob) -> Result<(), Refused> {
    Err(Refused("not today"))
}

#[tokio::test]
async fn a_job_error_of_any_type_is_recorded() {
    let backend = backend();
    let reported = Arc::new(Mutex::new(Vec::new()));
    let mut registry = JobRegistry::new(&[always_fails]);
    let sink = reported.clone();
    registry.set_error_handler(move |name, error| {
        let refused = error.downcast_ref::<Refused>().map(|refused| refused.0);
        sink.lock().unwrap().push((name.to_owned(), refused));
    });
    let runner = registry.runner(&backend).run().await.unwrap();

    let id = always_fails.builder().spawn(&backend).await.unwrap();
    eventually("the job has failed", || async {
        backend.job_state(id).await.unwrap() == Some(JobState::Failed)
    })
    .await;
    let job = mq::admin::get(&backend, id).await.unwrap().unwrap();
    let last_error = &job.last_error().unwrap().error;
    assert!(last_error.contains("refused: not today"), "{last_error}");
    // The error reaches the handler as itself, boxed, not as a string.
    assert_eq!(
        *reported.lock().unwrap(),
        [("always_fails".to_owned(), Some("not today"))]
    );
    drop(runner);
}

/// Refers to its own constant to spawn the next step.
#[job(channel_name = "countdown")]
async fn countdown(
    mut job: CurrentJob,
    backend: MemoryBackend,
    seen: mpsc::UnboundedSender<u32>,
) -> Result<(), BoxError> {
    let left: u32 = job.json()?.unwrap_or_default();
    seen.send(left)?;
    if left > 0 {
        countdown
            .builder()
            .set_json(&(left - 1))?
            .spawn(&backend)
            .await?;
    }
    job.complete().await?;
    Ok(())
}

#[tokio::test]
async fn a_job_can_spawn_itself_by_name() {
    let backend = backend();
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel::<u32>();
    let mut registry = JobRegistry::new(&[countdown]);
    registry.set_context(backend.clone()).set_context(seen_tx);
    let runner = registry.runner(&backend).run().await.unwrap();

    countdown
        .builder()
        .set_json(&3_u32)
        .unwrap()
        .spawn(&backend)
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let left = tokio::time::timeout(PATIENCE, seen_rx.recv())
            .await
            .expect("the countdown stalled")
            .unwrap();
        seen.push(left);
    }
    assert_eq!(seen, [3, 2, 1, 0]);
    eventually("every step is completed", || async { backend.is_empty() }).await;
    drop(runner);
}

// ---------------------------------------------------------------------------
// Missing context
// ---------------------------------------------------------------------------

/// A context type that no registry in these tests provides.
#[derive(Clone)]
struct Unregistered;

#[job]
async fn needs_context(
    mut job: CurrentJob,
    _number: i32,
    _present_later: Unregistered,
) -> Result<(), BoxError> {
    job.complete().await?;
    Ok(())
}

#[tokio::test]
async fn a_runner_refuses_to_start_without_a_context_value() {
    let backend = backend();
    let mut registry = JobRegistry::new(&[plain, needs_context]);
    registry.set_context(1_i32);
    let error = registry
        .runner(&backend)
        .run()
        .await
        .expect_err("a runner started without a context value its job needs");
    match error {
        mq::Error::MissingContext { job, type_name } => {
            assert_eq!(job, "needs_context");
            assert!(type_name.ends_with("Unregistered"), "{type_name}");
        }
        other => panic!("expected MissingContext, got {other:?}"),
    }
}

#[tokio::test]
async fn the_first_missing_context_type_is_reported() {
    let backend = backend();
    let registry = JobRegistry::new(&[needs_context]);
    let error = registry.runner(&backend).run().await.unwrap_err();
    assert!(
        matches!(
            &error,
            mq::Error::MissingContext {
                type_name: "i32",
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_runner_starts_once_every_context_value_is_set() {
    let backend = backend();
    let mut registry = JobRegistry::new(&[needs_context]);
    registry.set_context(1_i32).set_context(Unregistered);
    let runner = registry.runner(&backend).run().await.unwrap();
    let id = needs_context.builder().spawn(&backend).await.unwrap();
    wait_completed(&backend, id).await;
    drop(runner);
}

// ---------------------------------------------------------------------------
// Two jobs, one name
// ---------------------------------------------------------------------------

#[job(name = "twin")]
async fn twin_a(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(name = "twin")]
async fn twin_b(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[tokio::test]
async fn two_jobs_with_one_name_are_refused_at_start() {
    let backend = backend();
    let registry = JobRegistry::new(&[twin_a, twin_b]);
    match registry.runner(&backend).run().await {
        Err(mq::Error::InvalidInput { field, reason }) => {
            assert_eq!(field, "jobs");
            assert!(reason.contains("\"twin\""), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The same job twice is no mistake.
    let mut registry = JobRegistry::new(&[twin_a]);
    registry.add(twin_a);
    assert!(registry.runner(&backend).run().await.is_ok());
}

// ---------------------------------------------------------------------------
// Schedules declared with the attribute
// ---------------------------------------------------------------------------

#[job(cron = "0 */5 * * * *", time_zone = "Europe/Paris")]
async fn every_five_minutes(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(every_secs = 30, channel_name = "sweeps")]
async fn sweep(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(cron = "@hourly", time_zone = "Nowhere/Never")]
async fn nowhere(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[test]
fn scheduled_jobs_bring_their_schedules() {
    let registry = JobRegistry::new(&[every_five_minutes, sweep, plain]);
    let schedules: Vec<(String, String, Option<String>)> = registry
        .schedules()
        .into_iter()
        .map(|s| {
            (
                s.name().to_owned(),
                s.expression(),
                s.time_zone().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        schedules,
        vec![
            (
                "every_five_minutes".to_owned(),
                "0 */5 * * * *".to_owned(),
                Some("Europe/Paris".to_owned())
            ),
            ("sweep".to_owned(), "every 30s".to_owned(), None),
        ]
    );
    // A clone shares them, at run time too.
    let clone = registry.clone();
    assert!(clone.remove_schedule("sweep"));
    assert_eq!(registry.schedules().len(), 1);
}

#[tokio::test]
async fn a_schedule_in_an_unknown_time_zone_stops_the_runner_from_starting() {
    let backend = backend();
    let registry = JobRegistry::new(&[nowhere]);
    let error = registry
        .runner(&backend)
        .set_spawner(mq::default_spawner())
        .run()
        .await
        .expect_err("an unknown time zone");
    assert!(
        matches!(&error, mq::Error::InvalidInput { field: "schedule", reason } if reason.contains("Nowhere/Never")),
        "{error}"
    );
}
