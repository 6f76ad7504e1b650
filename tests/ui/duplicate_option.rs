use mq::{BoxError, CurrentJob, job};

#[job(retries = 1, channel_name = "a", retries = 2)]
async fn duplicate_retries(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(ordered, ordered = false)]
async fn duplicate_ordered(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

fn main() {}
