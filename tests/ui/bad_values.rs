use mq::{BoxError, CurrentJob, job};

#[job(name = 3)]
async fn name_not_string(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(name = "")]
async fn empty_name(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(channel_name = emails)]
async fn channel_not_string(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(backoff_secs = -0.5)]
async fn negative_backoff(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(backoff_secs = "2")]
async fn backoff_not_number(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(backoff_secs = 1e12)]
async fn backoff_too_long(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(ordered = "yes")]
async fn ordered_not_bool(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(proto = my_proto)]
async fn proto_without_parentheses(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

fn main() {}
