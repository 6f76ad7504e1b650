use mq::{BoxError, CurrentJob, job};

#[job(retries = "x")]
async fn string_retries(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(retries = 1.5)]
async fn float_retries(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(retries)]
async fn missing_retries(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

fn main() {}
