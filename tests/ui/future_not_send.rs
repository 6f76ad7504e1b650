use std::rc::Rc;

use mq::{BoxError, CurrentJob, job};

#[job]
async fn holds_rc(mut job: CurrentJob) -> Result<(), BoxError> {
    let local = Rc::new(1);
    job.complete().await?;
    drop(local);
    Ok(())
}

fn main() {}
