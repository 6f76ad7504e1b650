//! Conformance cases of `Backend::listen`: wake-ups.

use super::*;

/// Listeners hear about spawned and committed jobs, with their channel.
pub async fn wakes_up_on_insert_and_commit(backend: &dyn Backend, spawner: &Arc<dyn Spawner>) {
    let t = Clock::new();
    let mut wakeups = backend
        .listen(ListenParams { spawner })
        .await
        .expect("listen");
    let mut b = job("j", "ready-channel");
    b.set_channel_args("7");
    insert(backend, t.at(0.0), &[&b]).await;
    // A job ready at once is told with its channel and place in the queue,
    // so that a targeted claim from there finds it.
    let Wakeup::Queued { channel, ready_seq } = next_wakeup(spawner.as_ref(), &mut wakeups).await
    else {
        panic!("a spawn of a ready job was not told as queued");
    };
    assert_eq!(
        (channel.name.as_str(), channel.args.as_str()),
        ("ready-channel", "7")
    );
    let claimed = claim_targets(
        backend,
        t.at(0.0),
        10,
        &[ClaimTarget {
            channel,
            priority: 0,
            from_ready_seq: ready_seq,
        }],
    )
    .await;
    assert_eq!(ids(&claimed), [b.id()]);
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

/// Listeners hear about the channels of retried jobs.
pub async fn wakes_up_on_retry(backend: &dyn Backend, spawner: &Arc<dyn Spawner>) {
    let t = Clock::new();
    let x = failed_job(backend, t.at(0.0), job("j", "x")).await;
    let y = failed_job(backend, t.at(0.0), job("j", "y")).await;
    let mut wakeups = backend
        .listen(ListenParams { spawner })
        .await
        .expect("listen");
    assert_eq!(retry(backend, t.at(1.0), None, Some("x")).await, vec![x]);
    assert_eq!(
        next_wakeup(spawner.as_ref(), &mut wakeups).await,
        Wakeup::Ready {
            channel_name: Some("x".to_owned())
        }
    );
    assert_eq!(retry(backend, t.at(1.0), None, None).await, vec![y]);
    assert_eq!(
        next_wakeup(spawner.as_ref(), &mut wakeups).await,
        Wakeup::Ready {
            channel_name: Some("y".to_owned())
        }
    );
}

/// Resuming a channel wakes listening runners for it (its jobs waited
/// while no notification would come).
pub async fn wakes_up_on_resume(backend: &dyn Backend, spawner: &Arc<dyn Spawner>) {
    use crate::backend::{ChannelPauseParams, PauseAction};
    let pause_action = |action| {
        backend.channel_pause(ChannelPauseParams {
            channel_name: "x",
            action,
            now: None,
        })
    };
    assert!(pause_action(PauseAction::Pause).await.expect("pause"));
    let mut wakeups = backend
        .listen(ListenParams { spawner })
        .await
        .expect("listen");
    assert!(pause_action(PauseAction::Resume).await.expect("resume"));
    assert_eq!(
        next_wakeup(spawner.as_ref(), &mut wakeups).await,
        Wakeup::Ready {
            channel_name: Some("x".to_owned())
        }
    );
}

/// Cancelling a running job wakes its runner with the job's id, once the
/// cancel is made (not for jobs that had not started).
pub async fn wakes_up_on_cancel_of_a_running_job(
    backend: &dyn Backend,
    spawner: &Arc<dyn Spawner>,
) {
    use crate::backend::{CancelOutcome, JobCancelParams};
    let t = Clock::new();
    let [running, waiting] = insert(backend, t.at(0.0), &[&job("j", "a"), &job("j", "b")])
        .await
        .try_into()
        .expect("two ids");
    let names = ["a".to_owned()];
    claim_with(backend, t.at(0.0), 1, Some(&names), None).await;
    let mut wakeups = backend
        .listen(ListenParams { spawner })
        .await
        .expect("listen");
    let outcomes = backend
        .job_cancel(JobCancelParams {
            ids: &[waiting, running],
            now: None,
        })
        .await
        .expect("job_cancel");
    assert!(outcomes.contains(&(running, CancelOutcome::CancelledRunning)));
    assert!(outcomes.contains(&(waiting, CancelOutcome::Cancelled)));
    assert_eq!(
        next_wakeup(spawner.as_ref(), &mut wakeups).await,
        Wakeup::Cancelled { id: running }
    );
}
