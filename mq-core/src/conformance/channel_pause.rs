//! Conformance cases of `Backend::channel_pause`: pausing and resuming
//! channels, which claims then skip.

use super::*;
use crate::backend::{ChannelPauseParams, PauseAction};

async fn pause_action(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    channel_name: &str,
    action: PauseAction,
) -> bool {
    backend
        .channel_pause(ChannelPauseParams {
            channel_name,
            action,
            now,
        })
        .await
        .expect("channel_pause")
}

async fn pause(backend: &dyn Backend, now: Option<OffsetDateTime>, channel_name: &str) -> bool {
    pause_action(backend, now, channel_name, PauseAction::Pause).await
}

async fn resume(backend: &dyn Backend, channel_name: &str) -> bool {
    pause_action(backend, None, channel_name, PauseAction::Resume).await
}

/// Neither kind of claim takes a paused channel's jobs, whatever their
/// arguments; other channels are served; once resumed, its jobs are
/// claimed again, in order.
pub async fn paused_channels_are_not_claimed(backend: &dyn Backend) {
    let t = Clock::new();
    let mut a1 = job("j", "a");
    a1.set_channel_args("1");
    let a2 = job("j", "a");
    let b = job("j", "b");
    let [a1, a2, b] = insert(backend, t.at(0.0), &[&a1, &a2, &b])
        .await
        .try_into()
        .expect("three ids");
    assert!(pause(backend, t.at(0.0), "a").await);

    assert_eq!(ids(&claim(backend, t.at(1.0), 10).await), vec![b]);
    assert!(claim(backend, t.at(1.0), 10).await.is_empty());
    let mut a_with_args = target("a", 0);
    a_with_args.channel.args = "1".to_owned();
    assert!(
        claim_targets(backend, t.at(1.0), 10, &[target("a", 0), a_with_args])
            .await
            .is_empty()
    );
    assert_eq!(state(backend, a1).await, Some(JobState::Ready));

    assert!(resume(backend, "a").await);
    assert_eq!(
        sorted(ids(&claim(backend, t.at(2.0), 10).await)),
        sorted(vec![a1, a2])
    );
}

/// A claim over all channels with a limit smaller than the number of
/// paused channels before an unpaused one still reaches the unpaused one:
/// paused channels take no room in a claim.
pub async fn paused_channels_do_not_starve_the_others(backend: &dyn Backend) {
    let t = Clock::new();
    for name in ["a", "b", "c", "d"] {
        insert(backend, t.at(0.0), &[&job("j", name), &job("j", name)]).await;
        assert!(pause(backend, t.at(0.0), name).await);
    }
    let [z] = insert(backend, t.at(0.0), &[&job("j", "z")])
        .await
        .try_into()
        .expect("one id");
    assert_eq!(ids(&claim(backend, t.at(1.0), 1).await), vec![z]);
    // From a cursor inside the paused channels, too.
    let cursor = ChannelKey {
        name: "b".to_owned(),
        args: String::new(),
    };
    let [z2] = insert(backend, t.at(1.0), &[&job("j", "z")])
        .await
        .try_into()
        .expect("one id");
    assert_eq!(
        ids(&claim_with(backend, t.at(2.0), 1, None, Some(&cursor)).await),
        vec![z2]
    );
}

/// Pauses are listed by the stats, with their time, whether or not the
/// channel has jobs; pausing twice or resuming what is not paused changes
/// nothing and says so.
pub async fn is_listed_and_idempotent(backend: &dyn Backend) {
    let t = Clock::new();
    let stats = || async {
        backend
            .job_stats(JobStatsParams { now: t.at(0.0) })
            .await
            .expect("job_stats")
    };
    assert!(stats().await.paused.is_empty());
    assert!(!resume(backend, "nothing").await);

    assert!(pause(backend, t.at(5.0), "later").await);
    assert!(!pause(backend, t.at(9.0), "later").await);
    assert!(pause(backend, t.at(6.0), "early").await);
    let paused = stats().await.paused;
    let listed: Vec<(&str, Option<OffsetDateTime>)> = paused
        .iter()
        .map(|p| (p.channel_name.as_str(), Some(p.paused_at)))
        .collect();
    assert_eq!(listed, vec![("early", t.at(6.0)), ("later", t.at(5.0))]);
    assert!(stats().await.is_paused("later"));
    assert!(stats().await.counts.is_empty(), "a pause is not a job");

    assert!(resume(backend, "later").await);
    assert!(!resume(backend, "later").await);
    assert!(!stats().await.is_paused("later"));
    assert!(stats().await.is_paused("early"));
}

/// Jobs spawned into a paused channel wait, and delayed ones become ready
/// as usual; retried and scheduled jobs are held back the same way.
pub async fn holds_jobs_that_become_ready_while_paused(backend: &dyn Backend) {
    let t = Clock::new();
    let failed = failed_job(backend, t.at(0.0), job("j", "a")).await;
    assert!(pause(backend, t.at(0.0), "a").await);
    let mut later = job("j", "a");
    later.set_delay(Duration::from_secs(5));
    let [later] = insert(backend, t.at(0.0), &[&later])
        .await
        .try_into()
        .expect("one id");
    schedule(backend, t.at(10.0)).await;
    assert_eq!(
        retry(backend, t.at(10.0), None, Some("a")).await,
        vec![failed]
    );
    assert_eq!(state(backend, later).await, Some(JobState::Ready));
    assert!(claim(backend, t.at(11.0), 10).await.is_empty());

    assert!(resume(backend, "a").await);
    assert_eq!(
        sorted(ids(&claim(backend, t.at(12.0), 10).await)),
        sorted(vec![later, failed])
    );
}
