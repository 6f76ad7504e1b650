use mq::{BoxError, CurrentJob, job};

#[job]
fn not_async(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

fn main() {}
