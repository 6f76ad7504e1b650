use mq::{BoxError, job};

#[job]
async fn no_parameters() -> Result<(), BoxError> {
    Ok(())
}

fn main() {}
