//! Conformance cases of `Backend::channel_limit` and
//! `Backend::channel_limits`: setting, replacing, removing and listing
//! limits, and the ordinary claims passing limited channels over.

use super::*;
use crate::limits::{
    ChannelLimit, ChannelLimitParams, ChannelLimitsParams, LimitAction, LimitInfo,
};

/// Sets `limit`; returns whether it changed anything.
pub(super) async fn set_limit(backend: &dyn Backend, limit: &ChannelLimit) -> bool {
    backend
        .channel_limit(ChannelLimitParams {
            channel_name: limit.channel_name(),
            action: LimitAction::Set(limit),
        })
        .await
        .expect("channel_limit")
}

async fn remove_limit(backend: &dyn Backend, channel_name: &str) -> bool {
    backend
        .channel_limit(ChannelLimitParams {
            channel_name,
            action: LimitAction::Remove,
        })
        .await
        .expect("channel_limit")
}

/// The limits, with their use at `now`.
pub(super) async fn limits(backend: &dyn Backend, now: Option<OffsetDateTime>) -> Vec<LimitInfo> {
    backend
        .channel_limits(ChannelLimitsParams {
            now,
            with_use: true,
        })
        .await
        .expect("channel_limits")
}

/// Limits are listed by channel name as set; setting the same again
/// changes nothing and says so, a new one replaces it, and removing one
/// that is not set changes nothing.
pub async fn limits_are_set_replaced_and_removed(backend: &dyn Backend) {
    let t = Clock::new();
    assert!(limits(backend, t.at(0.0)).await.is_empty());
    let api = ChannelLimit::new("api")
        .set_concurrency(3)
        .unwrap()
        .set_rate(10, Duration::from_secs(60))
        .unwrap();
    let per_customer = ChannelLimit::new("exports")
        .set_concurrency(2)
        .unwrap()
        .set_per_args(true);
    assert!(set_limit(backend, &per_customer).await);
    assert!(set_limit(backend, &api).await);
    assert!(!set_limit(backend, &api).await);
    let listed: Vec<ChannelLimit> = limits(backend, t.at(0.0))
        .await
        .into_iter()
        .map(|info| info.limit)
        .collect();
    assert_eq!(listed, vec![api.clone(), per_customer]);
    let plain = backend
        .channel_limits(ChannelLimitsParams {
            now: None,
            with_use: false,
        })
        .await
        .expect("channel_limits");
    let plain: Vec<ChannelLimit> = plain.into_iter().map(|info| info.limit).collect();
    assert_eq!(plain, listed);

    let slower = ChannelLimit::new("api").set_concurrency(1).unwrap();
    assert!(set_limit(backend, &slower).await);
    assert_eq!(limits(backend, t.at(0.0)).await[0].limit, slower);
    assert!(remove_limit(backend, "api").await);
    assert!(!remove_limit(backend, "api").await);
    assert_eq!(limits(backend, t.at(0.0)).await.len(), 1);
}

/// A limit without a concurrency or a rate, or for another channel than
/// the one named, is refused, and nothing is stored.
pub async fn bad_limits_are_refused(backend: &dyn Backend) {
    let empty = ChannelLimit::new("api");
    let result = backend
        .channel_limit(ChannelLimitParams {
            channel_name: "api",
            action: LimitAction::Set(&empty),
        })
        .await;
    assert!(
        matches!(result, Err(crate::Error::InvalidInput { .. })),
        "{result:?}"
    );
    let other = ChannelLimit::new("other").set_concurrency(1).unwrap();
    let result = backend
        .channel_limit(ChannelLimitParams {
            channel_name: "api",
            action: LimitAction::Set(&other),
        })
        .await;
    assert!(
        matches!(result, Err(crate::Error::InvalidInput { .. })),
        "{result:?}"
    );
    assert!(limits(backend, None).await.is_empty());
}

/// Neither kind of ordinary claim takes a limited channel's jobs; other
/// channels are served; once the limit is removed, they are claimed again.
pub async fn ordinary_claims_pass_limited_channels_over(backend: &dyn Backend) {
    let t = Clock::new();
    let [a, b] = insert(backend, t.at(0.0), &[&job("j", "a"), &job("j", "b")])
        .await
        .try_into()
        .expect("two ids");
    assert!(set_limit(backend, &ChannelLimit::new("a").set_concurrency(5).unwrap()).await);
    assert_eq!(ids(&claim(backend, t.at(1.0), 10).await), vec![b]);
    assert!(
        claim_targets(backend, t.at(1.0), 10, &[target("a", 0)])
            .await
            .is_empty()
    );
    let waiting = limits(backend, t.at(1.0)).await;
    assert_eq!((waiting[0].waiting, waiting[0].running), (1, 0));
    assert!(remove_limit(backend, "a").await);
    assert_eq!(ids(&claim(backend, t.at(2.0), 10).await), vec![a]);
}
