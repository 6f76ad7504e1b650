//! Conformance cases of `Backend::job_vacuum`: vacuuming.

use super::*;

/// Vacuuming, alone or twice at once, succeeds and loses no live job.
pub async fn keeps_every_live_job(backend: &dyn Backend) {
    let t = Clock::new();
    let builders: Vec<JobBuilder> = (0..50).map(|_| job("j", "c")).collect();
    insert(backend, t.at(0.0), &builders.iter().collect::<Vec<_>>()).await;
    let done = claim(backend, t.at(0.0), 20).await;
    let leases: Vec<JobLease> = done.iter().map(ClaimedJob::lease).collect();
    complete(backend, &leases).await;
    let (a, b) = futures::join!(
        backend.job_vacuum(JobVacuumParams::default()),
        backend.job_vacuum(JobVacuumParams::default())
    );
    a.expect("job_vacuum");
    b.expect("job_vacuum");
    backend
        .job_vacuum(JobVacuumParams::default())
        .await
        .expect("job_vacuum");
    assert_eq!(
        claim(backend, t.at(0.0), 100).await.len(),
        30,
        "a vacuum lost live jobs"
    );
}
