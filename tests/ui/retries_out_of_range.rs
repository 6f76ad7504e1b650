use mq::{BoxError, CurrentJob, job};

#[job(retries = -1)]
async fn negative_retries(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

// PostgreSQL stores retries in an int4.
#[job(retries = 2147483648)]
async fn too_many_retries(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

fn main() {}
