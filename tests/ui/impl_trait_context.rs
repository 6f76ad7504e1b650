use mq::{BoxError, CurrentJob, job};

#[job]
async fn impl_trait(
    _job: CurrentJob,
    _value: impl Clone + Send + Sync + 'static,
) -> Result<(), BoxError> {
    Ok(())
}

fn main() {}
