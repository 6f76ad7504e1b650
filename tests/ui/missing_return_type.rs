use mq::{CurrentJob, job};

#[job]
async fn returns_nothing(_job: CurrentJob) {}

fn main() {}
