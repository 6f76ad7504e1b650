use mq::{BoxError, CurrentJob, job};

#[job(cron = "every five minutes")]
async fn not_cron(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(cron = "* * * * *", every_secs = 60)]
async fn two_schedules(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(time_zone = "Europe/Paris")]
async fn zone_without_cron(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(every_secs = 0)]
async fn zero_period(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

#[job(every_secs = "60")]
async fn period_not_integer(_job: CurrentJob) -> Result<(), BoxError> {
    Ok(())
}

fn main() {}
