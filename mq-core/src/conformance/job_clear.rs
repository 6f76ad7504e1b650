//! Conformance cases of `Backend::job_clear`: clearing channels.

use super::*;

/// Clearing deletes the jobs of the given channel names, in any state.
pub async fn deletes_by_channel_name_or_all(backend: &dyn Backend) {
    let t = Clock::new();
    let mut a = job("j", "a");
    a.set_channel_args("x");
    let mut a_later = job("j", "a");
    a_later.set_delay(Duration::from_secs(100));
    let b = job("j", "b");
    let c = job("j", "c");
    insert(backend, t.at(0.0), &[&a, &a_later, &b, &c]).await;
    let names = ["a".to_owned(), "b".to_owned()];
    let cleared = backend
        .job_clear(JobClearParams {
            channel_names: Some(&names),
        })
        .await
        .unwrap();
    assert_eq!(cleared, 3);
    assert!(backend.job_exists(c.id()).await.unwrap());
    assert!(!backend.job_exists(a_later.id()).await.unwrap());
    let all = backend
        .job_clear(JobClearParams {
            channel_names: None,
        })
        .await
        .unwrap();
    assert_eq!(all, 1);
    assert!(!backend.job_exists(c.id()).await.unwrap());
}
