//! Conformance cases of `Backend::job_claim`: claiming.

use super::*;

/// A claim returns at most its limit.
pub async fn respects_the_limit(backend: &dyn Backend) {
    let t = Clock::new();
    let builders: Vec<JobBuilder> = (0..10).map(|_| job("j", "c")).collect();
    insert(backend, t.at(0.0), &builders.iter().collect::<Vec<_>>()).await;
    assert_eq!(claim(backend, t.at(0.0), 3).await.len(), 3);
    assert_eq!(claim(backend, t.at(0.0), 100).await.len(), 7);
    assert_eq!(claim(backend, t.at(0.0), 100).await.len(), 0);
}

/// A claimed job carries its retry policy: the backoff, its cap and
/// whether it is jittered, as spawned (the runner computes the wait from
/// them when the attempt fails).
pub async fn hands_out_the_retry_policy(backend: &dyn Backend) {
    let t = Clock::new();
    let mut limited = job("limited", "c");
    limited
        .set_retry_backoff(Duration::from_millis(1500))
        .set_retry_backoff_max(Duration::from_secs(60))
        .set_retry_jitter(true);
    let plain = job("plain", "c");
    insert(backend, t.at(0.0), &[&limited, &plain]).await;
    let claimed = claim(backend, t.at(0.0), 10).await;
    let by_name = |name: &str| claimed.iter().find(|j| j.name == name).unwrap();
    let l = by_name("limited");
    assert_eq!(l.retry_backoff, Duration::from_millis(1500));
    assert_eq!(l.retry_backoff_max, Some(Duration::from_secs(60)));
    assert!(l.retry_jitter);
    let p = by_name("plain");
    assert_eq!(p.retry_backoff, Duration::from_secs(1));
    assert_eq!(p.retry_backoff_max, None);
    assert!(!p.retry_jitter);
}

/// A claimed job carries its timeout, and so does its stored record.
pub async fn hands_out_the_timeout(backend: &dyn Backend) {
    let t = Clock::new();
    let mut limited = job("limited", "c");
    limited.set_timeout(Duration::from_millis(2500));
    let plain = job("plain", "c");
    insert(backend, t.at(0.0), &[&limited, &plain]).await;
    let claimed = claim(backend, t.at(0.0), 10).await;
    let by_name = |name: &str| claimed.iter().find(|j| j.name == name).unwrap();
    assert_eq!(
        by_name("limited").timeout,
        Some(Duration::from_millis(2500))
    );
    assert_eq!(by_name("plain").timeout, None);
    let stored = get(backend, limited.id()).await.expect("stored");
    assert_eq!(stored.timeout, Some(Duration::from_millis(2500)));
}

/// Within a channel, jobs are claimed in the order they were spawned.
pub async fn follows_spawn_order_within_a_channel(backend: &dyn Backend) {
    let t = Clock::new();
    let mut spawned = Vec::new();
    for _ in 0..5 {
        let b = job("j", "c");
        spawned.extend(insert(backend, t.at(0.0), &[&b]).await);
    }
    let mut claimed = Vec::new();
    for _ in 0..5 {
        claimed.extend(ids(&claim(backend, t.at(0.0), 1).await));
    }
    assert_eq!(claimed, spawned);
}

/// A runner subscribed to channel names gets jobs of those names with any
/// arguments, and nothing else.
pub async fn filters_by_channel_names(backend: &dyn Backend) {
    let t = Clock::new();
    let mut a1 = job("j", "a");
    a1.set_channel_args("1");
    let mut a2 = job("j", "a");
    a2.set_channel_args("2");
    let b = job("j", "b");
    let ab = job("j", "ab");
    insert(backend, t.at(0.0), &[&a1, &a2, &b, &ab]).await;

    let only_a = ["a".to_owned()];
    let mut claimed = ids(&claim_with(backend, t.at(0.0), 10, Some(&only_a), None).await);
    claimed.sort();
    let mut expected = vec![a1.id(), a2.id()];
    expected.sort();
    assert_eq!(claimed, expected);

    let none: [String; 0] = [];
    assert!(
        claim_with(backend, t.at(0.0), 10, Some(&none), None)
            .await
            .is_empty()
    );
    let rest: HashSet<Uuid> = ids(&claim(backend, t.at(0.0), 10).await)
        .into_iter()
        .collect();
    assert_eq!(rest, HashSet::from([b.id(), ab.id()]));
}

/// A channel with many ready jobs does not starve one with few: claims
/// that follow the cursor reach the small channel within a round.
pub async fn is_fair_across_channels(backend: &dyn Backend) {
    let t = Clock::new();
    let big: Vec<JobBuilder> = (0..200).map(|_| job("j", "a-big")).collect();
    insert(backend, t.at(0.0), &big.iter().collect::<Vec<_>>()).await;
    let small: Vec<JobBuilder> = (0..2).map(|_| job("j", "b-small")).collect();
    insert(backend, t.at(1.0), &small.iter().collect::<Vec<_>>()).await;

    let mut cursor = None;
    let mut small_seen = 0;
    for _ in 0..2 {
        let claimed = claim_with(backend, t.at(1.0), 5, None, cursor.as_ref()).await;
        small_seen += claimed
            .iter()
            .filter(|job| job.channel_name == "b-small")
            .count();
        cursor = claim_cursor(cursor.as_ref(), &claimed).or(cursor);
    }
    assert_eq!(small_seen, 2, "the small channel waited behind the big one");
}

/// Ordered jobs of a channel run one at a time, in spawn order; unordered
/// jobs of the same channel do not wait for them.
pub async fn runs_ordered_jobs_one_at_a_time(backend: &dyn Backend) {
    let t = Clock::new();
    let ordered: Vec<JobBuilder> = (0..3)
        .map(|_| {
            let mut b = job("o", "c");
            b.set_ordered(true);
            b
        })
        .collect();
    for b in &ordered {
        insert(backend, t.at(0.0), &[b]).await;
    }
    let free = job("free", "c");
    insert(backend, t.at(0.0), &[&free]).await;

    let first = claim(backend, t.at(0.0), 10).await;
    let mut got = ids(&first);
    got.sort();
    let mut want = vec![ordered[0].id(), free.id()];
    want.sort();
    assert_eq!(got, want);
    assert!(
        claim(backend, t.at(0.0), 10).await.is_empty(),
        "an ordered job ran before its predecessor finished"
    );

    let head = first.iter().find(|job| job.id == ordered[0].id()).unwrap();
    // A failed attempt keeps the head in place.
    assert_eq!(
        fail(backend, t.at(0.0), head.lease(), Duration::ZERO).await,
        JobFailOutcome::Retrying
    );
    let again = claim(backend, t.at(0.0), 10).await;
    assert_eq!(ids(&again), vec![ordered[0].id()]);
    assert_eq!(complete(backend, &[again[0].lease()]).await.len(), 1);

    for next in &ordered[1..] {
        let claimed = claim(backend, t.at(0.0), 10).await;
        assert_eq!(ids(&claimed), vec![next.id()]);
        complete(backend, &[claimed[0].lease()]).await;
    }
    assert!(claim(backend, t.at(0.0), 10).await.is_empty());
}

/// Ordering holds per channel: the same name with other arguments is
/// another channel.
pub async fn orders_each_channel_args_separately(backend: &dyn Backend) {
    let t = Clock::new();
    let mut spawned = Vec::new();
    for args in ["1", "2", "1", "2"] {
        let mut b = job("o", "c");
        b.set_ordered(true).set_channel_args(args);
        spawned.extend(insert(backend, t.at(0.0), &[&b]).await);
    }
    let mut first = ids(&claim(backend, t.at(0.0), 10).await);
    first.sort();
    let mut want = vec![spawned[0], spawned[1]];
    want.sort();
    assert_eq!(first, want);
}

/// Many concurrent claims hand every job out exactly once.
pub async fn never_hands_a_job_out_twice(backend: &dyn Backend) {
    let t = Clock::new();
    let builders: Vec<JobBuilder> = (0..300)
        .map(|i| {
            let mut b = job("j", &format!("c{}", i % 5));
            b.set_ordered(i % 3 == 0);
            b
        })
        .collect();
    insert(backend, t.at(0.0), &builders.iter().collect::<Vec<_>>()).await;
    let claimers = (0..8).map(|_| async {
        let mut mine = Vec::new();
        let mut cursor: Option<ChannelKey> = None;
        let mut idle = 0;
        while idle < 3 {
            let claimed = claim_with(backend, t.at(0.0), 7, None, cursor.as_ref()).await;
            if claimed.is_empty() {
                idle += 1;
                continue;
            }
            idle = 0;
            cursor = claim_cursor(cursor.as_ref(), &claimed).or(cursor);
            let leases: Vec<JobLease> = claimed.iter().map(ClaimedJob::lease).collect();
            assert_eq!(complete(backend, &leases).await.len(), leases.len());
            mine.extend(ids(&claimed));
        }
        mine
    });
    let all: Vec<Uuid> = futures::future::join_all(claimers).await.concat();
    let unique: HashSet<Uuid> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "a job was handed out twice");
    assert_eq!(all.len(), 300, "some jobs were never handed out");
}

/// A failed ordered job holds its channel, visibly failed, until it is
/// retried (and completes) or deleted.
pub async fn is_blocked_by_a_failed_ordered_job_until_retried_or_deleted(backend: &dyn Backend) {
    let t = Clock::new();
    let ordered: Vec<JobBuilder> = (0..3)
        .map(|_| {
            let mut b = job("o", "c");
            b.set_ordered(true).set_retries(0);
            b
        })
        .collect();
    for b in &ordered {
        insert(backend, t.at(0.0), &[b]).await;
    }
    let first = claim(backend, t.at(0.0), 10).await;
    assert_eq!(ids(&first), vec![ordered[0].id()]);
    assert_eq!(
        fail(backend, t.at(0.0), first[0].lease(), Duration::ZERO).await,
        JobFailOutcome::Failed
    );
    schedule(backend, t.at(100.0)).await;
    assert!(
        claim(backend, t.at(100.0), 10).await.is_empty(),
        "a failed ordered job let its successor run"
    );
    assert_eq!(
        state(backend, ordered[0].id()).await,
        Some(JobState::Failed)
    );

    // Retried, it runs again first; once it completes, the next one runs.
    assert_eq!(
        retry(backend, t.at(100.0), Some(&[ordered[0].id()]), None).await,
        vec![ordered[0].id()]
    );
    let again = claim(backend, t.at(100.0), 10).await;
    assert_eq!(ids(&again), vec![ordered[0].id()]);
    complete(backend, &[again[0].lease()]).await;
    let second = claim(backend, t.at(100.0), 10).await;
    assert_eq!(ids(&second), vec![ordered[1].id()]);
    fail(backend, t.at(100.0), second[0].lease(), Duration::ZERO).await;
    assert!(claim(backend, t.at(100.0), 10).await.is_empty());

    // Deleted, it lets the next one run.
    assert_eq!(
        delete(backend, &[ordered[1].id()]).await,
        vec![ordered[1].id()]
    );
    assert_eq!(
        ids(&claim(backend, t.at(100.0), 10).await),
        vec![ordered[2].id()]
    );
}

/// Ordered jobs behind their channel's head are blocked, and unblocked in
/// turn, each when the one before it completes.
pub async fn unblocks_ordered_jobs_in_turn(backend: &dyn Backend) {
    let t = Clock::new();
    let ordered: Vec<JobBuilder> = (0..3)
        .map(|_| {
            let mut b = job("o", "c");
            b.set_ordered(true);
            b
        })
        .collect();
    insert(backend, t.at(0.0), &ordered.iter().collect::<Vec<_>>()).await;
    let ids: Vec<Uuid> = ordered.iter().map(JobBuilder::id).collect();
    assert_eq!(
        states(backend, &ids).await,
        [
            Some(JobState::Ready),
            Some(JobState::Blocked),
            Some(JobState::Blocked)
        ]
    );
    let head = claim(backend, t.at(0.0), 10).await;
    assert_eq!(head[0].id, ids[0]);
    assert_eq!(head.len(), 1);
    assert_eq!(
        states(backend, &ids).await,
        [
            Some(JobState::Running),
            Some(JobState::Blocked),
            Some(JobState::Blocked)
        ]
    );
    complete(backend, &[head[0].lease()]).await;
    assert_eq!(
        states(backend, &ids).await,
        [None, Some(JobState::Ready), Some(JobState::Blocked)]
    );
}

/// However many ordered channels are blocked (their heads failed for good,
/// their successors waiting), a claim finds the ready jobs of every other
/// channel, before, among and after them in channel order: blocked
/// channels cost it nothing.
pub async fn is_not_starved_by_blocked_ordered_channels(backend: &dyn Backend) {
    let t = Clock::new();
    let mut heads = Vec::new();
    let mut successors = Vec::new();
    for i in 0..200 {
        let channel = format!("m{i:03}");
        let mut head = job("o", &channel);
        head.set_ordered(true).set_retries(0);
        let mut next = job("o", &channel);
        next.set_ordered(true);
        insert(backend, t.at(0.0), &[&head, &next]).await;
        heads.push(head);
        successors.push(next);
    }
    let claimed = claim(backend, t.at(0.0), 1000).await;
    assert_eq!(claimed.len(), 200, "every head runs");
    let failures: Vec<JobFailure<'_>> = claimed
        .iter()
        .map(|job| JobFailure {
            lease: job.lease(),
            retry_delay: Duration::ZERO,
            error: "down",
        })
        .collect();
    let outcomes = backend
        .job_fail(JobFailParams {
            failures: &failures,
            now: t.at(0.0),
        })
        .await
        .unwrap();
    assert!(
        outcomes
            .iter()
            .all(|(_, outcome)| *outcome == JobFailOutcome::Failed),
        "{outcomes:?}"
    );
    // Unordered jobs on channels before ("a"), among ("m100x") and after
    // ("z") the blocked ones.
    let free: Vec<JobBuilder> = ["a", "m050x", "m100x", "m199x", "z"]
        .iter()
        .map(|channel| job("free", channel))
        .collect();
    insert(backend, t.at(1.0), &free.iter().collect::<Vec<_>>()).await;
    let mut cursor = None;
    let mut got = Vec::new();
    // A claim of 2 at a time, following the cursor: every free job within
    // three claims, as if no blocked channel existed.
    for _ in 0..3 {
        let claimed = claim_with(backend, t.at(1.0), 2, None, cursor.as_ref()).await;
        cursor = claim_cursor(cursor.as_ref(), &claimed).or(cursor);
        got.extend(ids(&claimed));
    }
    let mut want: Vec<Uuid> = free.iter().map(JobBuilder::id).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "blocked ordered channels starved the others");
    for next in &successors {
        assert_eq!(state(backend, next.id()).await, Some(JobState::Blocked));
    }
}

/// An ordered job spawned while its channel's head runs waits blocked, and
/// an ordered job spawned on an idle channel is ready at once.
pub async fn blocks_ordered_jobs_spawned_behind_a_running_head(backend: &dyn Backend) {
    let t = Clock::new();
    let mut head = job("o", "c");
    head.set_ordered(true);
    insert(backend, t.at(0.0), &[&head]).await;
    assert_eq!(state(backend, head.id()).await, Some(JobState::Ready));
    let running = claim(backend, t.at(0.0), 10).await;
    let mut later = job("o", "c");
    later.set_ordered(true).set_delay(Duration::from_secs(5));
    insert(backend, t.at(1.0), &[&later]).await;
    assert_eq!(state(backend, later.id()).await, Some(JobState::Blocked));
    assert!(claim(backend, t.at(100.0), 10).await.is_empty());
    // Its delay has passed by the time its turn comes: ready at once.
    complete_at(backend, &[running[0].lease()], t.at(10.0)).await;
    assert_eq!(state(backend, later.id()).await, Some(JobState::Ready));

    // Its turn comes before its delay is over: scheduled until then.
    let mut third = job("o", "c");
    third.set_ordered(true).set_delay(Duration::from_secs(60));
    insert(backend, t.at(10.0), &[&third]).await;
    let second = claim(backend, t.at(10.0), 10).await;
    assert_eq!(ids(&second), vec![later.id()]);
    complete_at(backend, &[second[0].lease()], t.at(11.0)).await;
    assert_eq!(state(backend, third.id()).await, Some(JobState::Scheduled));
    assert!(claim(backend, t.at(11.0), 10).await.is_empty());
    schedule(backend, t.at(70.0)).await;
    assert_eq!(ids(&claim(backend, t.at(70.0), 10).await), vec![third.id()]);
}

/// Each time a job becomes ready it takes a place after every job that
/// became ready before, and claims follow those places: a job released
/// (or retried) goes behind the jobs that were waiting.
pub async fn numbers_jobs_in_the_order_they_became_ready(backend: &dyn Backend) {
    let t = Clock::new();
    let (a, b, c) = (job("j", "c"), job("j", "c"), job("j", "c"));
    insert(backend, t.at(0.0), &[&a, &b]).await;
    let first = claim(backend, t.at(0.0), 1).await;
    assert_eq!(ids(&first), [a.id()]);
    insert(backend, t.at(0.0), &[&c]).await;
    let released = backend
        .job_release(JobReleaseParams {
            skip_busy: true,
            leases: &[first[0].lease()],
            delay: Duration::ZERO,
            now: t.at(0.0),
        })
        .await
        .expect("job_release");
    assert_eq!(released, [(first[0].lease(), LeaseOutcome::Done)]);
    let rest = claim(backend, t.at(0.0), 10).await;
    assert_eq!(ids(&rest), [b.id(), c.id(), a.id()]);
    let places: Vec<i64> = rest.iter().map(|job| job.ready_seq).collect();
    assert!(
        places.windows(2).all(|w| w[0] < w[1]),
        "places in the ready queue do not increase: {places:?}"
    );
    assert!(
        first[0].ready_seq < places[0],
        "a later job took an earlier place: {} then {places:?}",
        first[0].ready_seq
    );
}

/// A targeted claim takes jobs of its channels only, from the place given
/// on, in queue order; a job before that place stays ready for a claim
/// over all channels.
pub async fn targeted_claims_start_at_the_given_place(backend: &dyn Backend) {
    let t = Clock::new();
    let jobs: Vec<JobBuilder> = (0..5).map(|_| job("j", "t")).collect();
    insert(backend, t.at(0.0), &jobs.iter().collect::<Vec<_>>()).await;
    let other = job("j", "u");
    insert(backend, t.at(0.0), &[&other]).await;
    let first = claim_targets(backend, t.at(0.0), 1, &[target("t", i64::MIN)]).await;
    assert_eq!(ids(&first), [jobs[0].id()]);
    // Skip one job: start after the second.
    let places = {
        let next = claim_targets(
            backend,
            t.at(0.0),
            1,
            &[target("t", first[0].ready_seq + 1)],
        )
        .await;
        assert_eq!(ids(&next), [jobs[1].id()]);
        next[0].ready_seq
    };
    let skipped_from = places + 2;
    let later = claim_targets(backend, t.at(0.0), 10, &[target("t", skipped_from)]).await;
    let later_ids = ids(&later);
    assert!(
        later_ids.len() < 3 && !later_ids.contains(&jobs[2].id()),
        "a targeted claim took a job before its start: {later_ids:?}"
    );
    assert!(later.iter().all(|job| job.ready_seq >= skipped_from));
    assert!(later.iter().all(|job| job.channel_name == "t"));
    // Nothing past the end; the rest, and the other channel, to a full claim.
    let past_end = later.last().map_or(skipped_from, |job| job.ready_seq + 1);
    assert!(
        claim_targets(backend, t.at(0.0), 10, &[target("t", past_end)])
            .await
            .is_empty()
    );
    assert!(claim_targets(backend, t.at(0.0), 10, &[]).await.is_empty());
    let mut rest = ids(&claim(backend, t.at(0.0), 10).await);
    rest.sort();
    let mut expected: Vec<Uuid> = jobs
        .iter()
        .map(JobBuilder::id)
        .filter(|id| !later_ids.contains(id) && *id != jobs[0].id() && *id != jobs[1].id())
        .chain([other.id()])
        .collect();
    expected.sort();
    assert_eq!(rest, expected);
}

/// A targeted claim serves its targets in the order given, each up to the
/// limit that remains (the jobs it returns are in no particular order).
pub async fn targeted_claims_visit_targets_in_order(backend: &dyn Backend) {
    let t = Clock::new();
    let a: Vec<JobBuilder> = (0..3).map(|_| job("j", "a")).collect();
    let b: Vec<JobBuilder> = (0..3).map(|_| job("j", "b")).collect();
    insert(backend, t.at(0.0), &a.iter().chain(&b).collect::<Vec<_>>()).await;
    let claimed = claim_targets(
        backend,
        t.at(0.0),
        4,
        &[target("b", i64::MIN), target("a", i64::MIN)],
    )
    .await;
    // The jobs come back in no particular order: b gave all it had, then a
    // its first.
    let mut channels: Vec<&str> = claimed
        .iter()
        .map(|job| job.channel_name.as_str())
        .collect();
    channels.sort_unstable();
    assert_eq!(channels, ["a", "b", "b", "b"]);
    assert!(claimed.iter().any(|job| job.id == a[0].id()));
}

/// A job of the given priority on `channel`.
fn prioritized(name: &str, channel: &str, priority: i16) -> JobBuilder {
    let mut builder = job(name, channel);
    builder.set_priority(priority);
    builder
}

/// Within a channel, claims take ready jobs of higher priority first,
/// each priority in the order its jobs became ready, whether spawned one
/// by one or in a batch; a retried job keeps its priority.
pub async fn takes_higher_priorities_first(backend: &dyn Backend) {
    let t = Clock::new();
    let a = prioritized("a", "p", 0);
    let low = prioritized("low", "p", -2);
    insert(backend, t.at(0.0), &[&a, &low]).await;
    let b = prioritized("b", "p", 0);
    let urgent = prioritized("urgent", "p", 5);
    let urgent_too = prioritized("urgent_too", "p", 5);
    insert(backend, t.at(0.0), &[&b, &urgent, &urgent_too]).await;
    let highest = prioritized("highest", "p", i16::MAX);
    let lowest = prioritized("lowest", "p", i16::MIN);
    insert(backend, t.at(0.0), &[&lowest, &highest]).await;
    assert_eq!(get(backend, urgent.id()).await.expect("stored").priority, 5);

    let mut order = Vec::new();
    let first = claim(backend, t.at(0.0), 1).await;
    order.extend(first.iter().map(|job| job.name.clone()));
    // The first urgent job fails and is ready again at once: it goes back
    // before the jobs of priority 0, after the other urgent one.
    let claimed = claim(backend, t.at(0.0), 1).await;
    order.extend(claimed.iter().map(|job| job.name.clone()));
    assert_eq!(
        fail(backend, t.at(0.0), claimed[0].lease(), Duration::ZERO).await,
        JobFailOutcome::Retrying
    );
    loop {
        let claimed = claim(backend, t.at(0.0), 1).await;
        if claimed.is_empty() {
            break;
        }
        order.extend(claimed.iter().map(|job| job.name.clone()));
    }
    assert_eq!(
        order,
        [
            "highest",
            "urgent",
            "urgent_too",
            "urgent",
            "a",
            "b",
            "low",
            "lowest"
        ]
    );
}

/// Priorities order jobs within a channel only: a channel full of urgent
/// jobs does not starve a channel of ordinary ones, and an ordered job
/// still waits for the ordered jobs spawned before it, whatever their
/// priorities.
pub async fn priorities_keep_fairness_and_order(backend: &dyn Backend) {
    let t = Clock::new();
    let urgent: Vec<JobBuilder> = (0..50).map(|_| prioritized("u", "a-urgent", 100)).collect();
    insert(backend, t.at(0.0), &urgent.iter().collect::<Vec<_>>()).await;
    let plain = job("p", "b-plain");
    insert(backend, t.at(0.0), &[&plain]).await;
    let mut cursor = None;
    let mut served = Vec::new();
    for _ in 0..2 {
        let claimed = claim_with(backend, t.at(0.0), 1, None, cursor.as_ref()).await;
        served.extend(claimed.iter().map(|job| job.channel_name.clone()));
        cursor = claim_cursor(cursor.as_ref(), &claimed).or(cursor);
    }
    served.sort();
    assert_eq!(served, ["a-urgent", "b-plain"]);

    let mut first = job("first", "ordered");
    first.set_ordered(true);
    let mut second = prioritized("second", "ordered", 1000);
    second.set_ordered(true);
    insert(backend, t.at(0.0), &[&first, &second]).await;
    let names = ["ordered".to_owned()];
    let claimed = claim_with(backend, t.at(0.0), 10, Some(&names), None).await;
    assert_eq!(ids(&claimed), [first.id()]);
    assert_eq!(complete(backend, &[claimed[0].lease()]).await.len(), 1);
    let claimed = claim_with(backend, t.at(0.0), 10, Some(&names), None).await;
    assert_eq!(ids(&claimed), [second.id()]);
}

/// A targeted claim takes the jobs of its target's priority only, from its
/// place on: the places of each priority are a range of their own.
pub async fn targeted_claims_take_one_priority(backend: &dyn Backend) {
    let t = Clock::new();
    let plain = job("plain", "t");
    let urgent = prioritized("urgent", "t", 7);
    let later = prioritized("later", "t", -1);
    insert(backend, t.at(0.0), &[&plain, &urgent, &later]).await;
    let channel = ChannelKey {
        name: "t".to_owned(),
        args: String::new(),
    };
    let of = |priority: i16| ClaimTarget {
        channel: channel.clone(),
        priority,
        from_ready_seq: i64::MIN,
    };
    assert!(
        claim_targets(backend, t.at(0.0), 10, &[of(3)])
            .await
            .is_empty()
    );
    let claimed = claim_targets(backend, t.at(0.0), 10, &[of(0)]).await;
    assert_eq!(ids(&claimed), [plain.id()]);
    assert_eq!(crate::ready_queue::priority_of(claimed[0].ready_seq), 0);
    let claimed = claim_targets(backend, t.at(0.0), 10, &[of(-1), of(7)]).await;
    assert_eq!(sorted(ids(&claimed)), sorted(vec![urgent.id(), later.id()]));
    for job in &claimed {
        let priority = if job.id == urgent.id() { 7 } else { -1 };
        assert_eq!(crate::ready_queue::priority_of(job.ready_seq), priority);
    }
}
