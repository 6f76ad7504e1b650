use mq::{BoxError, CurrentJob, job};

#[job]
async fn generic<T: Clone + Send + Sync + 'static>(
    _job: CurrentJob,
    _value: T,
) -> Result<(), BoxError> {
    Ok(())
}

#[job]
async fn with_lifetime<'a>(_job: CurrentJob, _value: &'a str) -> Result<(), BoxError> {
    Ok(())
}

fn main() {}
