use mq::{BoxError, CurrentJob, job};

#[job]
async fn context_first(_greeting: &'static str, _job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job]
async fn by_reference(_job: &mut CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

fn main() {}
