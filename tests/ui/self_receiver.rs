use mq::{BoxError, job};

struct Mailer;

impl Mailer {
    #[job]
    async fn send(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

fn main() {}
