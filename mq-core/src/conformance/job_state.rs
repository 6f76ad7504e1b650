//! Conformance cases of `Backend::job_state`: job states.

use super::*;

/// The state follows a job through its life.
pub async fn follows_the_job(backend: &dyn Backend) {
    let t = Clock::new();
    let b = job("j", "c");
    assert_eq!(state(backend, b.id()).await, None);
    insert(backend, t.at(0.0), &[&b]).await;
    assert_eq!(state(backend, b.id()).await, Some(JobState::Ready));
    let claimed = claim(backend, t.at(0.0), 1).await;
    assert_eq!(state(backend, b.id()).await, Some(JobState::Running));
    complete(backend, &[claimed[0].lease()]).await;
    assert_eq!(state(backend, b.id()).await, None);
}
