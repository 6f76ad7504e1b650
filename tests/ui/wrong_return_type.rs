use mq::{CurrentJob, job};

#[job]
async fn returns_a_number(_job: CurrentJob) -> u32 {
    0
}

/// Not an error type: no conversion into `Box<dyn Error + Send + Sync>`.
struct NotAnError;

#[job]
async fn returns_a_non_error(_job: CurrentJob) -> Result<(), NotAnError> {
    Ok(())
}

fn main() {}
