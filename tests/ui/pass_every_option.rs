//! Every option at once, and the ways a job may be written.
#![deny(warnings)]

use std::error::Error;
use std::time::Duration;

use mq::{CurrentJob, JobBuilder, JobRegistry, job};

fn my_proto(builder: &mut JobBuilder) -> &mut JobBuilder {
    builder.set_channel_args("from-proto").set_retries(9)
}

/// A job with every option.
#[job(
    name = "custom",
    channel_name = "foo",
    retries = 3,
    backoff_secs = 2.5,
    backoff_max_secs = 60,
    jitter,
    ordered,
    proto(my_proto)
)]
pub async fn my_job(
    mut job: CurrentJob,
    ctx: i32,
    greeting: &'static str,
) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
    let _ = (ctx, greeting);
    job.complete().await?;
    Ok(())
}

/// `ordered = false`, an integer backoff, a qualified `CurrentJob`, a
/// pattern in a context argument and `mq::Result`.
#[job(ordered = false, backoff_secs = 1)]
pub async fn other_job(
    _job: mq::CurrentJob,
    (_host, _port): (&'static str, u16),
) -> mq::Result<()> {
    Ok(())
}

/// An elided lifetime in a context argument: the registry's value is
/// `'static`.
#[job]
async fn elided(_job: CurrentJob, greeting: &str) -> Result<(), Box<dyn Error + Send + Sync>> {
    let _ = greeting.len();
    Ok(())
}

/// Lint attributes reach the function's body.
#[job]
#[allow(unused_variables)]
async fn linted(_job: CurrentJob) -> mq::Result<()> {
    let unused = 1;
    Ok(())
}

fn main() {
    let registry = JobRegistry::new(&[my_job, other_job, elided, linted]);
    assert!(registry.resolve_job("custom").is_some());
    let builder = my_job.builder();
    let job = builder.job();
    assert_eq!(job.name, "custom");
    assert_eq!(job.channel_name, "foo");
    assert_eq!(job.channel_args, "from-proto");
    assert_eq!(job.retries, 3);
    assert_eq!(job.retry_backoff, Duration::from_secs_f64(2.5));
    assert_eq!(job.retry_backoff_max, Some(Duration::from_secs(60)));
    assert!(job.retry_jitter);
    assert!(job.ordered);
    assert!(!other_job.builder().job().ordered);
}
