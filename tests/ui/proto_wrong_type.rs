use mq::{BoxError, CurrentJob, JobBuilder, job};

fn takes_a_builder_by_value(builder: JobBuilder) -> JobBuilder {
    builder
}

#[job(proto(takes_a_builder_by_value))]
async fn wrong_proto(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(proto(no_such_proto))]
async fn missing_proto(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

fn main() {}
