use std::rc::Rc;

use mq::{BoxError, CurrentJob, job};

#[job]
async fn rc_context(_job: CurrentJob, _value: Rc<i32>) -> Result<(), BoxError> {
    Ok(())
}

fn main() {}
