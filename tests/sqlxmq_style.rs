//! A program written against sqlxmq 0.6's API, with only its imports
//! changed to `mq`: the shapes sqlxmq users write (a `#[job]` taking
//! context, the registry and runner, the builder chain, raw JSON without
//! `?`, checkpoints with a keep-alive and `usize` retries, an error handler
//! with its argument types spelled out as sqlxmq gives them,
//! `builder_with_id`) compile and run. What cannot move by imports alone is
//! listed in the README's "Coming from sqlxmq".

use std::error::Error;
use std::sync::{Arc, Mutex};
use std::time::Duration;

// The one line a move from sqlxmq changes: `use sqlxmq::{...}`.
use mq::{Checkpoint, CurrentJob, JobRegistry, job};
use mq_test_db::TestDb;
use sqlx::PgPool;

type Greetings = Arc<Mutex<Vec<String>>>;

#[job(channel_name = "greetings")]
async fn greet(
    mut current_job: CurrentJob,
    salutation: &'static str,
    log: Greetings,
) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
    let who: Option<String> = current_job.json()?;
    log.lock().unwrap().push(format!(
        "{salutation}, {}!",
        who.as_deref().unwrap_or("world")
    ));
    let extra: usize = 1;
    current_job
        .checkpoint(
            Checkpoint::new_keep_alive(Duration::from_secs(60))
                .set_raw_json(r#""checkpointed""#)
                .set_extra_retries(extra),
        )
        .await?;
    current_job.complete().await?;
    Ok(())
}

#[tokio::test]
async fn a_sqlxmq_program_runs_with_its_imports_changed() -> Result<(), Box<dyn Error>> {
    let db = TestDb::create();
    let pool = PgPool::connect(db.url()).await?;
    mq::migrate(&pool).await?;

    let log = Greetings::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut registry = JobRegistry::new(&[greet]);
    registry.set_context("Hello");
    registry.set_context(log.clone());
    let sink = failures.clone();
    // sqlxmq's handler type, spelled out.
    registry.set_error_handler(move |name: &str, error: Box<dyn Error + Send + 'static>| {
        sink.lock().unwrap().push(format!("{name}: {error}"));
    });
    let runner = registry.runner(&pool).set_concurrency(10, 20).run().await?;

    greet
        .builder()
        .set_channel_name("greetings")
        .set_json("Ada")?
        .spawn(&pool)
        .await?;
    let id = mq::Uuid::now_v7();
    greet
        .builder_with_id(id)
        .set_raw_json(r#""Grace""#)
        .spawn(&pool)
        .await?;

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while log.lock().unwrap().len() < 2 || mq::exists(&pool, id).await? {
        assert!(std::time::Instant::now() < deadline, "the jobs did not run");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut greeted = log.lock().unwrap().clone();
    greeted.sort();
    assert_eq!(greeted, ["Hello, Ada!", "Hello, Grace!"]);
    assert_eq!(failures.lock().unwrap().len(), 0);
    drop(runner);
    Ok(())
}
