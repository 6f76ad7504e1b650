//! Conformance cases of `Backend::job_claim_limited`: claims that never
//! exceed a channel's concurrency or rate, over the channel or per
//! argument.

use std::collections::{BTreeMap, BTreeSet};

use super::channel_limit::{limits, set_limit};
use super::*;
use crate::limits::{ChannelLimit, JobClaimLimitedParams};

pub(super) async fn claim_limited(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    channel_name: &str,
    limit: u32,
) -> Vec<ClaimedJob> {
    claim_limited_after(backend, now, channel_name, None, limit).await
}

/// A limited claim of up to `limit` jobs of `channel_name`, from the
/// front after `after`, or from `targets`; its failure, as the backend
/// gives it.
async fn try_claim_limited(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    channel_name: &str,
    after: Option<&str>,
    targets: Option<&[ClaimTarget]>,
    limit: u32,
) -> crate::Result<Vec<ClaimedJob>> {
    backend
        .job_claim_limited(JobClaimLimitedParams {
            channel_name,
            after,
            targets,
            limit,
            lease: LEASE,
            now,
        })
        .await
}

async fn claim_limited_after(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    channel_name: &str,
    after: Option<&str>,
    limit: u32,
) -> Vec<ClaimedJob> {
    try_claim_limited(backend, now, channel_name, after, None, limit)
        .await
        .expect("job_claim_limited")
}

/// A limited claim of up to `limit` jobs from `targets`.
async fn claim_limited_from(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    channel_name: &str,
    targets: &[ClaimTarget],
    limit: u32,
) -> Vec<ClaimedJob> {
    try_claim_limited(backend, now, channel_name, None, Some(targets), limit)
        .await
        .expect("job_claim_limited")
}

fn leases(jobs: &[ClaimedJob]) -> Vec<JobLease> {
    jobs.iter().map(ClaimedJob::lease).collect()
}

async fn spawn_many(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    channel: &str,
    args: &str,
    n: usize,
) -> Vec<Uuid> {
    let builders: Vec<JobBuilder> = (0..n)
        .map(|_| {
            let mut b = job("j", channel);
            b.set_channel_args(args);
            b
        })
        .collect();
    let refs: Vec<&JobBuilder> = builders.iter().collect();
    insert(backend, now, &refs).await
}

/// No more than the concurrency run at once: claims take what is left, in
/// spawn order; a completion, a failure or a lapsed lease (once the job
/// is made ready again) frees a slot.
pub async fn claims_no_more_than_the_concurrency(backend: &dyn Backend) {
    let t = Clock::new();
    let spawned = spawn_many(backend, t.at(0.0), "api", "", 6).await;
    set_limit(
        backend,
        &ChannelLimit::new("api").set_concurrency(2).unwrap(),
    )
    .await;
    let first = claim_limited(backend, t.at(1.0), "api", 10).await;
    assert_eq!(ids(&first), spawned[..2]);
    assert!(
        claim_limited(backend, t.at(1.0), "api", 10)
            .await
            .is_empty()
    );
    assert_eq!(limits(backend, t.at(1.0)).await[0].running, 2);
    assert_eq!(limits(backend, t.at(1.0)).await[0].waiting, 4);

    complete(backend, &leases(&first[..1])).await;
    let second = claim_limited(backend, t.at(2.0), "api", 10).await;
    assert_eq!(ids(&second), spawned[2..3]);
    fail(
        backend,
        t.at(3.0),
        second[0].lease(),
        Duration::from_secs(3600),
    )
    .await;
    let third = claim_limited(backend, t.at(3.0), "api", 10).await;
    assert_eq!(ids(&third), spawned[3..4]);
    // The lease of `first[1]` (30 s from 1) lapses at 31, but the job
    // holds its slot until it is made ready again: its runner, if late,
    // may still renew the lease.
    assert!(
        claim_limited(backend, t.at(31.5), "api", 10)
            .await
            .is_empty()
    );
    backend
        .job_schedule(JobScheduleParams {
            now: t.at(31.5),
            ..Default::default()
        })
        .await
        .expect("job_schedule");
    let fourth = claim_limited(backend, t.at(31.5), "api", 10).await;
    assert_eq!(ids(&fourth), spawned[4..5]);
}

/// No more than the rate's count start in any window of its period,
/// whatever completes meanwhile.
pub async fn starts_no_more_than_the_rate(backend: &dyn Backend) {
    let t = Clock::new();
    let spawned = spawn_many(backend, t.at(0.0), "api", "", 8).await;
    let limit = ChannelLimit::new("api")
        .set_rate(3, Duration::from_secs(10))
        .unwrap();
    set_limit(backend, &limit).await;
    let first = claim_limited(backend, t.at(1.0), "api", 2).await;
    assert_eq!(ids(&first), spawned[..2]);
    complete(backend, &leases(&first)).await;
    let second = claim_limited(backend, t.at(5.0), "api", 10).await;
    assert_eq!(ids(&second), spawned[2..3]);
    complete(backend, &leases(&second)).await;
    assert!(
        claim_limited(backend, t.at(10.9), "api", 10)
            .await
            .is_empty()
    );
    assert_eq!(limits(backend, t.at(10.9)).await[0].recent_starts, 3);
    // At 11, the two starts of 1 are out of the window; the one of 5 is not.
    let third = claim_limited(backend, t.at(11.0), "api", 10).await;
    assert_eq!(ids(&third), spawned[3..5]);
    let fourth = claim_limited(backend, t.at(15.0), "api", 10).await;
    assert_eq!(ids(&fourth), spawned[5..6]);
}

/// A limit per argument holds each argument to it apart, and serves the
/// arguments in turn after the one given.
pub async fn per_args_limits_hold_each_argument_apart(backend: &dyn Backend) {
    let t = Clock::new();
    let x = spawn_many(backend, t.at(0.0), "exports", "x", 3).await;
    let y = spawn_many(backend, t.at(0.0), "exports", "y", 3).await;
    let z = spawn_many(backend, t.at(0.0), "exports", "z", 1).await;
    let limit = ChannelLimit::new("exports")
        .set_concurrency(2)
        .unwrap()
        .set_per_args(true);
    set_limit(backend, &limit).await;
    let first = claim_limited_after(backend, t.at(1.0), "exports", Some("x"), 3).await;
    // After x: y first, then z; the claim's own limit stops it.
    assert_eq!(ids(&first), vec![y[0], y[1], z[0]]);
    let second = claim_limited(backend, t.at(1.0), "exports", 10).await;
    assert_eq!(ids(&second), vec![x[0], x[1]]);
    assert!(
        claim_limited(backend, t.at(1.0), "exports", 10)
            .await
            .is_empty()
    );
    assert_eq!(limits(backend, t.at(1.0)).await[0].running, 2);

    // Over the whole channel instead: two at once in all.
    complete(backend, &leases(&first)).await;
    complete(backend, &leases(&second)).await;
    let whole = ChannelLimit::new("exports").set_concurrency(2).unwrap();
    set_limit(backend, &whole).await;
    let third = claim_limited(backend, t.at(2.0), "exports", 10).await;
    assert_eq!(third.len(), 2);
    assert!(
        claim_limited(backend, t.at(2.0), "exports", 10)
            .await
            .is_empty()
    );
}

/// A channel without a limit, or a paused limited one, gives nothing to a
/// limited claim.
pub async fn only_limited_unpaused_channels_give_jobs(backend: &dyn Backend) {
    let t = Clock::new();
    spawn_many(backend, t.at(0.0), "free", "", 1).await;
    assert!(
        claim_limited(backend, t.at(1.0), "free", 10)
            .await
            .is_empty()
    );
    spawn_many(backend, t.at(0.0), "api", "", 1).await;
    set_limit(
        backend,
        &ChannelLimit::new("api").set_concurrency(5).unwrap(),
    )
    .await;
    backend
        .channel_pause(crate::backend::ChannelPauseParams {
            channel_name: "api",
            action: crate::backend::PauseAction::Pause,
            now: t.at(0.0),
        })
        .await
        .expect("channel_pause");
    assert!(
        claim_limited(backend, t.at(1.0), "api", 10)
            .await
            .is_empty()
    );
    backend
        .channel_pause(crate::backend::ChannelPauseParams {
            channel_name: "api",
            action: crate::backend::PauseAction::Resume,
            now: None,
        })
        .await
        .expect("channel_pause");
    assert_eq!(claim_limited(backend, t.at(1.0), "api", 10).await.len(), 1);
}

/// A target of a limited claim: `channel`'s argument `args`, its jobs of
/// `priority` from place `from` on.
fn target_of(channel: &str, args: &str, priority: i16, from: i64) -> ClaimTarget {
    ClaimTarget {
        channel: ChannelKey {
            name: channel.to_owned(),
            args: args.to_owned(),
        },
        priority,
        from_ready_seq: from,
    }
}

/// A limited claim with targets takes from their places on, in their
/// order and within the room: an argument with targets of two priorities
/// gets its room once, the higher priority first. A job before a target's
/// place stays ready for a claim without targets, and the targets of
/// other channels are passed over.
pub async fn targeted_limited_claims_start_at_their_places(backend: &dyn Backend) {
    let t = Clock::new();
    let a = spawn_many(backend, t.at(0.0), "api", "a", 4).await;
    let urgent: Vec<JobBuilder> = (0..2)
        .map(|_| {
            let mut b = job("j", "api");
            b.set_channel_args("a").set_priority(5);
            b
        })
        .collect();
    insert(backend, t.at(0.0), &urgent.iter().collect::<Vec<_>>()).await;
    let b = spawn_many(backend, t.at(0.0), "api", "b", 4).await;
    spawn_many(backend, t.at(0.0), "web", "", 1).await;
    set_limit(
        backend,
        &ChannelLimit::new("api")
            .set_per_args(true)
            .set_concurrency(3)
            .unwrap(),
    )
    .await;
    let first = claim_limited_from(
        backend,
        t.at(1.0),
        "api",
        &[target_of("api", "a", 0, i64::MIN)],
        1,
    )
    .await;
    assert_eq!(ids(&first), a[..1]);
    // Past a[1]: it is left.
    let past_a1 = first[0].ready_seq + 2;
    let second = claim_limited_from(
        backend,
        t.at(1.0),
        "api",
        &[
            target_of("api", "a", 0, past_a1),
            target_of("web", "", 0, i64::MIN),
            target_of("api", "b", 0, i64::MIN),
            target_of("api", "a", 5, i64::MIN),
        ],
        10,
    )
    .await;
    let mut got = ids(&second);
    got.sort();
    let mut expected = vec![urgent[0].id(), urgent[1].id(), b[0], b[1], b[2]];
    expected.sort();
    assert_eq!(
        got, expected,
        "a: the urgent two in its room of two; b: three"
    );

    // a's room again: from its place on, a[1] left behind.
    let urgent_claimed: Vec<ClaimedJob> = second
        .iter()
        .filter(|job| job.channel_args == "a")
        .cloned()
        .collect();
    complete(backend, &leases(&urgent_claimed)).await;
    let third = claim_limited_from(
        backend,
        t.at(2.0),
        "api",
        &[target_of("api", "a", 0, past_a1)],
        10,
    )
    .await;
    assert_eq!(ids(&third), a[2..4]);
    // Without targets, the claim finds it; b has no room, web no limit.
    complete(backend, &leases(&first)).await;
    assert_eq!(
        ids(&claim_limited(backend, t.at(3.0), "api", 10).await),
        a[1..2]
    );
    assert!(
        claim_limited_from(
            backend,
            t.at(3.0),
            "api",
            &[target_of("web", "", 0, i64::MIN)],
            10
        )
        .await
        .is_empty()
    );
}

/// One step of a generated sequence on a limited channel.
#[derive(Clone, Debug)]
enum Step {
    /// Spawns jobs with arguments `a` or `b`.
    Spawn(bool, u8),
    /// A limited claim of up to this many.
    Claim(u8),
    /// Completes the n-th job the account holds running.
    Complete(usize),
    /// Fails it, to retry in an hour.
    Fail(usize),
    /// The clock moves on (leases last 30 s).
    Advance(u8),
}

/// The limit of a generated sequence.
#[derive(Clone, Debug)]
struct Shape {
    concurrency: Option<u32>,
    rate: Option<u32>,
    per_args: bool,
}

fn shaped_steps() -> impl proptest::strategy::Strategy<Value = (Shape, Vec<Step>)> {
    use proptest::prelude::*;
    let shape = (
        proptest::option::of(1u32..4),
        proptest::option::of(1u32..6),
        any::<bool>(),
    )
        .prop_filter("a limit", |(c, r, _)| c.is_some() || r.is_some())
        .prop_map(|(concurrency, rate, per_args)| Shape {
            concurrency,
            rate,
            per_args,
        });
    let step = prop_oneof![
        2 => (any::<bool>(), 1u8..4).prop_map(|(b, n)| Step::Spawn(b, n)),
        4 => (1u8..6).prop_map(Step::Claim),
        2 => (0usize..8).prop_map(Step::Complete),
        1 => (0usize..8).prop_map(Step::Fail),
        2 => (0u8..20).prop_map(Step::Advance),
    ];
    (shape, proptest::collection::vec(step, 1..40))
}

/// The test's own account of a limited channel.
#[derive(Default)]
struct Account {
    now: u64,
    /// Ready jobs per argument, oldest first.
    ready: BTreeMap<String, Vec<Uuid>>,
    /// Jobs claimed and not yet completed or failed: lease, argument, and
    /// when the lease ends (a lapsed lease still holds its slot: nothing
    /// makes the job ready again in these sequences).
    running: Vec<(JobLease, String, u64)>,
    /// Every start: argument and time.
    starts: Vec<(String, u64)>,
}

const PERIOD: u64 = 10;

impl Account {
    fn key(shape: &Shape, args: &str) -> String {
        if shape.per_args {
            args.to_owned()
        } else {
            String::new()
        }
    }

    /// The room a key has at `now`.
    fn room(&self, shape: &Shape, key: &str) -> u64 {
        let mut room = u64::MAX;
        if let Some(c) = shape.concurrency {
            let running = self
                .running
                .iter()
                .filter(|(_, args, _)| Self::key(shape, args) == key)
                .count() as u64;
            room = room.min(u64::from(c).saturating_sub(running));
        }
        if let Some(r) = shape.rate {
            let recent = self
                .starts
                .iter()
                .filter(|(args, at)| Self::key(shape, args) == key && at + PERIOD > self.now)
                .count() as u64;
            room = room.min(u64::from(r).saturating_sub(recent));
        }
        room
    }

    /// How many a claim of up to `asked` must take.
    fn expected(&self, shape: &Shape, asked: u64) -> u64 {
        let total = if shape.per_args {
            self.ready
                .iter()
                .map(|(args, jobs)| self.room(shape, args).min(jobs.len() as u64))
                .sum::<u64>()
        } else {
            let ready: u64 = self.ready.values().map(|jobs| jobs.len() as u64).sum();
            self.room(shape, "").min(ready)
        };
        total.min(asked)
    }
}

async fn check_limited(
    backend: &dyn Backend,
    base: Clock,
    (shape, steps): (Shape, Vec<Step>),
) -> std::result::Result<(), super::model::Failure> {
    let channel = format!("l{}", base.0.unix_timestamp());
    let mut limit = ChannelLimit::new(channel.clone()).set_per_args(shape.per_args);
    if let Some(c) = shape.concurrency {
        limit = limit.set_concurrency(c).expect("valid");
    }
    if let Some(r) = shape.rate {
        limit = limit
            .set_rate(r, Duration::from_secs(PERIOD))
            .expect("valid");
    }
    set_limit(backend, &limit).await;
    let at = |secs: u64| base.at(secs as f64);
    let mut account = Account::default();
    let mut log = format!("{shape:?}\n");
    for step in steps {
        log.push_str(&format!("{:>4}s {step:?}\n", account.now));
        let broken = |what: String, log: &str| Err((what, log.to_owned()));
        match step {
            Step::Spawn(b, n) => {
                let args = if b { "b" } else { "a" };
                let ids = spawn_many(backend, at(account.now), &channel, args, n as usize).await;
                account
                    .ready
                    .entry(args.to_owned())
                    .or_default()
                    .extend(ids);
            }
            Step::Claim(n) => {
                let expected = account.expected(&shape, u64::from(n));
                let jobs = claim_limited(backend, at(account.now), &channel, u32::from(n)).await;
                if jobs.len() as u64 != expected {
                    return broken(
                        format!("claimed {} jobs, expected {expected}", jobs.len()),
                        &log,
                    );
                }
                // Each argument's oldest ready jobs, in whatever order the
                // backend returns them.
                let mut by_args: BTreeMap<String, BTreeSet<Uuid>> = BTreeMap::new();
                for job in &jobs {
                    by_args
                        .entry(job.channel_args.clone())
                        .or_default()
                        .insert(job.id);
                    account.running.push((
                        job.lease(),
                        job.channel_args.clone(),
                        account.now + LEASE.as_secs(),
                    ));
                    account.starts.push((job.channel_args.clone(), account.now));
                }
                for (args, claimed) in by_args {
                    let queue = account.ready.entry(args.clone()).or_default();
                    let oldest: BTreeSet<Uuid> =
                        queue.iter().take(claimed.len()).copied().collect();
                    if oldest != claimed {
                        return broken(
                            format!("claimed {claimed:?} of {args:?}, not its oldest {oldest:?}"),
                            &log,
                        );
                    }
                    queue.drain(..claimed.len());
                }
            }
            Step::Complete(i) | Step::Fail(i) => {
                if account.running.is_empty() {
                    continue;
                }
                let (lease, _, _) = account.running.remove(i % account.running.len());
                if matches!(step, Step::Complete(_)) {
                    complete_at(backend, &[lease], at(account.now)).await;
                } else {
                    fail(backend, at(account.now), lease, Duration::from_secs(3600)).await;
                }
            }
            Step::Advance(secs) => account.now += u64::from(secs),
        }
    }
    Ok(())
}

/// Generated sequences of spawns, limited claims, completions, failures
/// and time passing, under a random limit (concurrency, rate or both,
/// over the channel or per argument): every claim takes exactly what the
/// limit leaves room for (never more: the limit holds; never less: no job
/// waits on room it has), each argument's oldest first.
pub async fn random_claims_take_exactly_the_room_left(backend: &dyn Backend) {
    super::model::explore(24, shaped_steps(), |base, case| {
        Box::pin(check_limited(backend, base, case))
    })
    .await;
}

/// What `claims` limited claims of up to `each` jobs of `channel_name`,
/// made at the same time (on as many connections as the backend gives),
/// took together.
async fn claims_at_once(
    backend: &dyn Backend,
    channel_name: &str,
    claims: usize,
    each: u32,
) -> Vec<ClaimedJob> {
    let claims = (0..claims).map(|_| claim_limited(backend, None, channel_name, each));
    futures::future::join_all(claims)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Limited claims of one channel made at the same time, on as many
/// connections, share its room exactly: together they take what the limit
/// leaves, never more (each counts the claims committed before it) and no
/// less (none gives up for another in flight), over several rounds in
/// which completions free part of the room.
pub async fn concurrent_claims_share_the_room(backend: &dyn Backend) {
    const CONCURRENCY: u32 = 10;
    const CLAIMS: usize = 12;
    spawn_many(backend, None, "burst", "", 300).await;
    set_limit(
        backend,
        &ChannelLimit::new("burst")
            .set_concurrency(CONCURRENCY)
            .unwrap(),
    )
    .await;
    let mut running: Vec<ClaimedJob> = Vec::new();
    for round in 0..4 {
        let claimed = claims_at_once(backend, "burst", CLAIMS, 3).await;
        assert_eq!(
            claimed.len() + running.len(),
            CONCURRENCY as usize,
            "round {round}: {} claimed beside {} running, under a limit of {CONCURRENCY}",
            claimed.len(),
            running.len()
        );
        running.extend(claimed);
        // Half of them end, freeing that much room for the next round.
        let ended: Vec<ClaimedJob> = running.drain(..running.len() / 2).collect();
        complete(backend, &leases(&ended)).await;
    }
}

/// A limited claim of up to `limit` jobs of `channel_name`, made again
/// while it fails for the moment (a concurrent claim took its room).
async fn claim_limited_until_given(
    backend: &dyn Backend,
    channel_name: &str,
    limit: u32,
) -> Vec<ClaimedJob> {
    for _ in 0..100 {
        match try_claim_limited(backend, None, channel_name, None, None, limit).await {
            Ok(jobs) => return jobs,
            Err(error) if error.is_transient() => {}
            Err(error) => panic!("job_claim_limited: {error}"),
        }
    }
    panic!("job_claim_limited failed 100 times over")
}

/// Limited claims and completions interleaved on many connections never
/// hold more jobs than the limit between them: each claimer claims, then
/// completes part of what it holds, and claims again, so that claims meet
/// the others' claims and completions at every point of their own. What
/// the claimers hold, counted as each claim returns and before each
/// completion starts, is at most what runs; it never passes the limit.
/// (A claim the backend gives up on, as a busy limit may make it, is made
/// again: that is the runner's part.)
pub async fn limits_hold_while_claims_and_completions_interleave(backend: &dyn Backend) {
    const CONCURRENCY: usize = 12;
    const CLAIMERS: usize = 6;
    const ROUNDS: usize = 12;
    spawn_many(backend, None, "churn", "", 500).await;
    set_limit(
        backend,
        &ChannelLimit::new("churn")
            .set_concurrency(CONCURRENCY as u32)
            .unwrap(),
    )
    .await;
    let held = std::sync::Mutex::new(0_usize);
    let claimed_in_all = std::sync::Mutex::new(0_usize);
    let claimer = |who: usize| {
        let (held, claimed_in_all) = (&held, &claimed_in_all);
        async move {
            let mut mine: Vec<ClaimedJob> = Vec::new();
            for round in 0..ROUNDS {
                let claimed = claim_limited_until_given(backend, "churn", 3).await;
                {
                    let mut held = held.lock().unwrap();
                    *held += claimed.len();
                    assert!(
                        *held <= CONCURRENCY,
                        "claimer {who}, round {round}: {} held under a limit of {CONCURRENCY}",
                        *held
                    );
                }
                *claimed_in_all.lock().unwrap() += claimed.len();
                mine.extend(claimed);
                // Half of what it holds ends (every second round, one more).
                let ending = (mine.len() + round % 2) / 2;
                let ended: Vec<ClaimedJob> = mine.drain(..ending).collect();
                *held.lock().unwrap() -= ended.len();
                complete(backend, &leases(&ended)).await;
            }
            *held.lock().unwrap() -= mine.len();
            complete(backend, &leases(&mine)).await;
        }
    };
    futures::future::join_all((0..CLAIMERS).map(claimer)).await;
    let claimed = *claimed_in_all.lock().unwrap();
    assert!(
        claimed >= CONCURRENCY * 3,
        "the limit's room was used over and over: {claimed} claimed"
    );
}

/// A limit of hundreds holds under many claims made at once, one claim
/// alone still fills it exactly, and given a rate and then none again, it
/// counts every job running under either.
pub async fn large_limits_hold_under_concurrent_claims(backend: &dyn Backend) {
    const CONCURRENCY: usize = 300;
    let wide = || ChannelLimit::new("wide").set_concurrency(CONCURRENCY as u32);
    spawn_many(backend, None, "wide", "", 900).await;
    set_limit(backend, &wide().unwrap()).await;
    let mut running: Vec<ClaimedJob> = Vec::new();
    for round in 0..3 {
        let claimed = claims_at_once(backend, "wide", 12, 40).await;
        assert!(
            claimed.len() + running.len() <= CONCURRENCY,
            "round {round}: {} claimed beside {} running, under a limit of {CONCURRENCY}",
            claimed.len(),
            running.len()
        );
        running.extend(claimed);
        // One claim alone takes exactly what is left.
        running.extend(claim_limited(backend, None, "wide", 1000).await);
        assert_eq!(running.len(), CONCURRENCY, "round {round}");
        assert!(claim_limited(backend, None, "wide", 1000).await.is_empty());
        assert_eq!(limits(backend, None).await[0].running, CONCURRENCY as u64);
        let ended: Vec<ClaimedJob> = running.drain(..100).collect();
        complete(backend, &leases(&ended)).await;
    }

    // With a rate too, the jobs claimed so far still hold their slots.
    set_limit(
        backend,
        &wide()
            .unwrap()
            .set_rate(10_000, Duration::from_secs(3600))
            .unwrap(),
    )
    .await;
    let under_rate = claim_limited(backend, None, "wide", 1000).await;
    assert_eq!(under_rate.len(), 100);
    running.extend(under_rate);

    // Without the rate again, while jobs claimed under it run: the limit
    // still counts them all.
    let ended: Vec<ClaimedJob> = running.drain(..50).collect();
    complete(backend, &leases(&ended)).await;
    set_limit(backend, &wide().unwrap()).await;
    let claimed = claims_at_once(backend, "wide", 12, 40).await.len();
    assert!(claimed <= 50, "{claimed} claimed into 50 free slots");
    let rest = claim_limited(backend, None, "wide", 1000).await.len();
    assert_eq!(claimed + rest, 50);
}
