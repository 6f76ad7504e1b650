//! Conformance cases of `Backend::listen`: wake-ups.

use super::*;

/// Listeners hear about spawned and committed jobs, with their channel.
pub async fn wakes_up_on_insert_and_commit(backend: &dyn Backend) {
    let t = Clock::new();
    let mut wakeups = backend.listen().await.expect("listen");
    let spawner = backend.spawner();
    let b = job("j", "ready-channel");
    insert(backend, t.at(0.0), &[&b]).await;
    assert_eq!(
        next_wakeup(spawner.as_ref(), &mut wakeups).await,
        Wakeup::Ready {
            channel_name: Some("ready-channel".to_owned())
        }
    );
    let mut later = job("j", "later-channel");
    later.set_commit_interval(Some(Duration::from_secs(60)));
    insert(backend, t.at(0.0), &[&later]).await;
    assert_eq!(
        next_wakeup(spawner.as_ref(), &mut wakeups).await,
        Wakeup::Scheduled {
            channel_name: Some("later-channel".to_owned())
        }
    );
    backend
        .job_commit(JobCommitParams {
            ids: &[later.id()],
            now: t.at(0.0),
        })
        .await
        .unwrap();
    assert_eq!(
        next_wakeup(spawner.as_ref(), &mut wakeups).await,
        Wakeup::Ready {
            channel_name: Some("later-channel".to_owned())
        }
    );
}
