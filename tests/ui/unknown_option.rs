use mq::{BoxError, CurrentJob, JobRegistry, job};

#[job(channel = "emails")]
async fn unknown_option(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

fn main() {
    // Using a job whose attribute is wrong reports nothing more than the
    // attribute's own error.
    let _registry = JobRegistry::new(&[unknown_option]);
    let _builder = unknown_option.builder();
}
