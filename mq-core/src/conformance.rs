//! The backend conformance suite.
//!
//! Every case is a plain async function that takes a fresh, migrated,
//! empty backend and panics if the backend breaks the semantics. Cases
//! insert their own fixtures through the backend and use an explicit clock
//! (`now`), so they neither sleep nor depend on the machine's speed.
//!
//! [`conformance_tests!`](crate::conformance_tests) turns the whole suite
//! into one test per case for a backend factory; the in-memory backend and
//! both PostgreSQL drivers run it, and so can a backend of your own:
//!
//! ```
//! use std::sync::Arc;
//! use mq_core::memory::MemoryBackend;
//!
//! // A factory for a fresh, empty backend. Yours would connect to a new
//! // database (or return a `(guard, backend)` pair that drops it).
//! async fn backend() -> MemoryBackend {
//!     MemoryBackend::new(Arc::new(mq_runtime_tokio::TokioSpawner::new()))
//! }
//!
//! mq_core::conformance_tests!(#[tokio::test], backend);
//! ```

use std::collections::HashSet;
use std::time::Duration;

use futures::StreamExt;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::backend::{
    Backend, ChannelKey, ClaimedJob, JobCheckpointParams, JobClaimParams, JobClearParams,
    JobCommitParams, JobCompleteParams, JobDeleteParams, JobFailOutcome, JobFailParams,
    JobGetParams, JobInfo, JobInsertParams, JobKeepAliveParams, JobLease, JobListParams,
    JobPruneParams, JobReleaseParams, JobRetryParams, JobScheduleParams, JobState, JobStatsParams,
    MAX_ERROR_HISTORY, Wakeup, claim_cursor,
};
use crate::builder::JobBuilder;
use crate::spawner::timeout;

/// Generates one test per conformance case for a backend.
///
/// `$factory` is an async function (or path to one) returning a fresh,
/// migrated, empty backend, or a `(guard, backend)` pair (see
/// [`AsBackend`](crate::conformance::AsBackend)); the attributes (for example `#[tokio::test]`)
/// go on every generated test.
#[macro_export]
macro_rules! conformance_tests {
    ($(#[$attr:meta])+ $(,)? $factory:path) => {
        $crate::conformance_tests!(@cases [$(#[$attr])+] ($factory);
            job_insert_makes_jobs_claimable,
            job_insert_batch_is_one_call,
            job_insert_duplicate_id_inserts_nothing,
            job_insert_accepts_any_channel_name,
            job_insert_delayed_waits_for_its_time,
            job_claim_respects_the_limit,
            job_claim_follows_spawn_order_within_a_channel,
            job_claim_filters_by_channel_names,
            job_claim_is_fair_across_channels,
            job_claim_runs_ordered_jobs_one_at_a_time,
            job_claim_orders_each_channel_args_separately,
            job_claim_never_hands_a_job_out_twice,
            job_claim_is_blocked_by_a_failed_ordered_job_until_retried_or_deleted,
            job_complete_deletes_the_job,
            job_complete_is_fenced_by_the_lease,
            job_complete_keep_completed_keeps_the_job_out_of_the_way,
            job_fail_retries_with_backoff_then_fails,
            job_fail_without_delay_is_ready_at_once,
            job_fail_records_the_error_history,
            job_fail_keeps_the_latest_errors,
            job_fail_bounds_the_error_text,
            job_release_does_not_count_the_attempt,
            job_keep_alive_extends_the_lease,
            job_schedule_rescues_lapsed_leases,
            job_schedule_fails_lapsed_last_attempts,
            job_schedule_reports_the_next_due_time,
            job_checkpoint_replaces_payload_and_adds_retries,
            job_commit_makes_jobs_visible,
            job_commit_reports_missing_jobs,
            job_commit_lapsed_jobs_are_discarded,
            job_commit_ordered_reserves_the_position,
            job_clear_deletes_by_channel_name_or_all,
            job_state_follows_the_job,
            job_get_returns_everything_stored,
            job_list_filters_and_pages_in_spawn_order,
            job_retry_makes_failed_jobs_ready_with_fresh_attempts,
            job_retry_by_channel_name_and_wakes_listeners,
            job_delete_removes_jobs_in_any_state,
            job_prune_deletes_old_failed_and_completed_jobs,
            job_stats_counts_per_channel_name_and_state,
            listen_wakes_up_on_insert_and_commit,
            job_vacuum_keeps_every_live_job,
            job_complete_and_keep_alive_never_deadlock,
        );
    };
    (@cases $attrs:tt $factory:tt; $($case:ident),+ $(,)?) => {
        $( $crate::conformance_tests!(@case $attrs $factory $case); )+
    };
    (@case [$(#[$attr:meta])+] ($factory:path) $case:ident) => {
        $(#[$attr])+
        async fn $case() {
            let backend = $factory().await;
            $crate::conformance::$case($crate::conformance::AsBackend::as_backend(&backend)).await;
        }
    };
}

/// What a conformance factory returns: a backend, or a pair of a guard
/// (say, a temporary database dropped after the test) and a backend.
pub trait AsBackend {
    /// The backend under test.
    fn as_backend(&self) -> &dyn Backend;
}

impl<B: Backend> AsBackend for B {
    fn as_backend(&self) -> &dyn Backend {
        self
    }
}

impl<G, B: Backend> AsBackend for (G, B) {
    fn as_backend(&self) -> &dyn Backend {
        &self.1
    }
}

/// A clock for a case: a base time truncated to microseconds (PostgreSQL's
/// precision), and offsets from it.
#[derive(Clone, Copy, Debug)]
pub struct Clock(OffsetDateTime);

impl Clock {
    /// A clock starting now.
    pub fn new() -> Self {
        let now = OffsetDateTime::now_utc();
        Self(
            now.replace_nanosecond(now.nanosecond() / 1000 * 1000)
                .expect("valid nanosecond"),
        )
    }

    /// The base time plus `secs` seconds.
    pub fn at(self, secs: f64) -> Option<OffsetDateTime> {
        Some(self.0 + Duration::from_secs_f64(secs))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

const LEASE: Duration = Duration::from_secs(30);

fn job(name: &str, channel: &str) -> JobBuilder {
    let mut builder = JobBuilder::new(name);
    builder.set_channel_name(channel);
    builder
}

async fn insert(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    builders: &[&JobBuilder],
) -> Vec<Uuid> {
    backend
        .job_insert(JobInsertParams {
            jobs: builders.iter().map(|b| b.job()).collect(),
            now,
        })
        .await
        .expect("job_insert");
    builders.iter().map(|b| b.id()).collect()
}

async fn claim_with(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    limit: u32,
    names: Option<&[String]>,
    after: Option<&ChannelKey>,
) -> Vec<ClaimedJob> {
    backend
        .job_claim(JobClaimParams {
            channel_names: names,
            limit,
            lease: LEASE,
            after,
            now,
        })
        .await
        .expect("job_claim")
}

async fn claim(backend: &dyn Backend, now: Option<OffsetDateTime>, limit: u32) -> Vec<ClaimedJob> {
    claim_with(backend, now, limit, None, None).await
}

async fn complete(backend: &dyn Backend, leases: &[JobLease]) -> Vec<JobLease> {
    backend
        .job_complete(JobCompleteParams {
            leases,
            keep_completed: false,
            now: None,
        })
        .await
        .expect("job_complete")
}

async fn schedule(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
) -> crate::backend::JobScheduleResult {
    backend
        .job_schedule(JobScheduleParams { now })
        .await
        .expect("job_schedule")
}

async fn state(backend: &dyn Backend, id: Uuid) -> Option<JobState> {
    backend.job_state(id).await.expect("job_state")
}

async fn fail(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    lease: JobLease,
    delay: Duration,
) -> JobFailOutcome {
    backend
        .job_fail(JobFailParams {
            lease,
            retry_delay: delay,
            error: "boom",
            now,
        })
        .await
        .expect("job_fail")
}

fn ids(jobs: &[ClaimedJob]) -> Vec<Uuid> {
    jobs.iter().map(|job| job.id).collect()
}

/// Spawned jobs are claimable once, with their payloads, as attempt 1.
pub async fn job_insert_makes_jobs_claimable(backend: &dyn Backend) {
    let t = Clock::new();
    let mut json = job("json", "c");
    json.set_json(&serde_json::json!({"n": 1, "s": "é\"'"}))
        .unwrap();
    let mut bytes = job("bytes", "c");
    bytes.set_raw_bytes([0u8, 1, 2, 255]);
    let mut both = job("both", "c");
    both.set_json(&[1, 2]).unwrap().set_raw_bytes(b"xyz");
    insert(backend, t.at(0.0), &[&json, &bytes, &both]).await;

    let mut claimed = claim(backend, t.at(0.0), 10).await;
    claimed.sort_by_key(|job| job.name.clone());
    assert_eq!(claimed.len(), 3);
    let by_name = |name: &str| claimed.iter().find(|job| job.name == name).unwrap();
    let j = by_name("json");
    assert_eq!(j.id, json.id());
    assert_eq!(j.attempt, 1);
    assert_eq!(j.channel_name, "c");
    let value: serde_json::Value =
        serde_json::from_str(j.payload_json.as_deref().unwrap()).unwrap();
    assert_eq!(value, serde_json::json!({"n": 1, "s": "é\"'"}));
    assert_eq!(j.payload_bytes, None);
    assert_eq!(
        by_name("bytes").payload_bytes.as_deref(),
        Some(&[0u8, 1, 2, 255][..])
    );
    assert_eq!(by_name("bytes").payload_json, None);
    assert_eq!(by_name("both").payload_json.as_deref(), Some("[1,2]"));
    assert_eq!(by_name("both").payload_bytes.as_deref(), Some(&b"xyz"[..]));
    assert_eq!(j.retries, 4);
    assert_eq!(j.retry_backoff, Duration::from_secs(1));

    assert!(
        claim(backend, t.at(0.0), 10).await.is_empty(),
        "a running job was handed out again"
    );
}

/// A batch of jobs goes in with one call and every job comes out.
pub async fn job_insert_batch_is_one_call(backend: &dyn Backend) {
    let t = Clock::new();
    let builders: Vec<JobBuilder> = (0..500)
        .map(|i| {
            let mut b = job("batch", &format!("c{}", i % 7));
            b.set_json(&i).unwrap();
            b
        })
        .collect();
    let refs: Vec<&JobBuilder> = builders.iter().collect();
    let spawned: HashSet<Uuid> = insert(backend, t.at(0.0), &refs)
        .await
        .into_iter()
        .collect();
    let claimed: HashSet<Uuid> = ids(&claim(backend, t.at(0.0), 1000).await)
        .into_iter()
        .collect();
    assert_eq!(claimed.len(), 500);
    assert_eq!(claimed, spawned);
}

/// A batch with a duplicate id fails as a whole, inserting nothing.
pub async fn job_insert_duplicate_id_inserts_nothing(backend: &dyn Backend) {
    let t = Clock::new();
    let first = job("a", "c");
    insert(backend, t.at(0.0), &[&first]).await;
    let other = job("b", "c");
    let duplicate = JobBuilder::new_with_id(first.id(), "c");
    let result = backend
        .job_insert(JobInsertParams {
            jobs: vec![other.job(), duplicate.job()],
            now: t.at(0.0),
        })
        .await;
    let error = result.expect_err("a duplicate id must be refused");
    assert!(
        !error.is_transient(),
        "a duplicate id is not a transient error: {error:?}"
    );
    assert!(
        !backend.job_exists(other.id()).await.unwrap(),
        "part of a failed batch was inserted"
    );
    assert_eq!(ids(&claim(backend, t.at(0.0), 10).await), vec![first.id()]);
}

/// Channel names and arguments of any length and characters round-trip,
/// and can be subscribed to.
pub async fn job_insert_accepts_any_channel_name(backend: &dyn Backend) {
    let t = Clock::new();
    let long = "ß'\"\\;".repeat(2000) + "🦀";
    let names = [
        long.clone(),
        String::new(),
        "a b\nc".to_owned(),
        "x".repeat(64),
    ];
    for name in &names {
        let mut b = job("any", name);
        b.set_channel_args(format!("{name}/args"));
        insert(backend, t.at(0.0), &[&b]).await;
    }
    for name in &names {
        let filter = [name.clone()];
        let claimed = claim_with(backend, t.at(0.0), 10, Some(&filter), None).await;
        assert_eq!(
            claimed.len(),
            1,
            "channel {:?}",
            name.chars().take(20).collect::<String>()
        );
        assert_eq!(&claimed[0].channel_name, name);
        assert_eq!(claimed[0].channel_args, format!("{name}/args"));
    }
}

/// A delayed job is scheduled, and ready no earlier than its time.
pub async fn job_insert_delayed_waits_for_its_time(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("later", "c");
    b.set_delay(Duration::from_secs(10));
    insert(backend, t.at(0.0), &[&b]).await;
    assert_eq!(state(backend, b.id()).await, Some(JobState::Scheduled));

    let early = schedule(backend, t.at(9.9)).await;
    assert_eq!(early.made_ready, 0);
    assert!(
        claim(backend, t.at(9.9), 10).await.is_empty(),
        "a delayed job ran early"
    );

    let due = schedule(backend, t.at(10.0)).await;
    assert_eq!(due.made_ready, 1);
    assert_eq!(state(backend, b.id()).await, Some(JobState::Ready));
    assert_eq!(ids(&claim(backend, t.at(10.0), 10).await), vec![b.id()]);
}

/// A claim returns at most its limit.
pub async fn job_claim_respects_the_limit(backend: &dyn Backend) {
    let t = Clock::new();
    let builders: Vec<JobBuilder> = (0..10).map(|_| job("j", "c")).collect();
    insert(backend, t.at(0.0), &builders.iter().collect::<Vec<_>>()).await;
    assert_eq!(claim(backend, t.at(0.0), 3).await.len(), 3);
    assert_eq!(claim(backend, t.at(0.0), 100).await.len(), 7);
    assert_eq!(claim(backend, t.at(0.0), 100).await.len(), 0);
}

/// Within a channel, jobs are claimed in the order they were spawned.
pub async fn job_claim_follows_spawn_order_within_a_channel(backend: &dyn Backend) {
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
pub async fn job_claim_filters_by_channel_names(backend: &dyn Backend) {
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
pub async fn job_claim_is_fair_across_channels(backend: &dyn Backend) {
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
pub async fn job_claim_runs_ordered_jobs_one_at_a_time(backend: &dyn Backend) {
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
pub async fn job_claim_orders_each_channel_args_separately(backend: &dyn Backend) {
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
pub async fn job_claim_never_hands_a_job_out_twice(backend: &dyn Backend) {
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

/// Completing deletes the job.
pub async fn job_complete_deletes_the_job(backend: &dyn Backend) {
    let t = Clock::new();
    let b = job("j", "c");
    insert(backend, t.at(0.0), &[&b]).await;
    let claimed = claim(backend, t.at(0.0), 1).await;
    assert!(backend.job_exists(b.id()).await.unwrap());
    assert_eq!(
        complete(backend, &[claimed[0].lease()]).await,
        vec![claimed[0].lease()]
    );
    assert!(!backend.job_exists(b.id()).await.unwrap());
    assert_eq!(state(backend, b.id()).await, None);
    assert!(
        complete(backend, &[claimed[0].lease()]).await.is_empty(),
        "completed twice"
    );
}

/// Only the current attempt can complete a job.
pub async fn job_complete_is_fenced_by_the_lease(backend: &dyn Backend) {
    let t = Clock::new();
    let b = job("j", "c");
    insert(backend, t.at(0.0), &[&b]).await;
    let claimed = claim(backend, t.at(0.0), 1).await;
    let stale = JobLease {
        id: b.id(),
        token: claimed[0].lease_token + 1,
    };
    assert!(complete(backend, &[stale]).await.is_empty());
    let unknown = JobLease {
        id: Uuid::now_v7(),
        token: 1,
    };
    assert!(complete(backend, &[unknown]).await.is_empty());
    assert!(backend.job_exists(b.id()).await.unwrap());
    // A ready (not running) job cannot be completed either.
    let other = job("j", "c");
    insert(backend, t.at(0.0), &[&other]).await;
    assert!(
        complete(
            backend,
            &[JobLease {
                id: other.id(),
                token: 0
            }]
        )
        .await
        .is_empty()
    );
    assert!(backend.job_exists(other.id()).await.unwrap());
}

/// Failed attempts are retried after their delay until the retries run
/// out; then the job is failed and kept.
pub async fn job_fail_retries_with_backoff_then_fails(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(2);
    insert(backend, t.at(0.0), &[&b]).await;

    let first = claim(backend, t.at(0.0), 1).await;
    assert_eq!(first[0].attempt, 1);
    assert_eq!(
        fail(backend, t.at(0.0), first[0].lease(), Duration::from_secs(1)).await,
        JobFailOutcome::Retrying
    );
    assert_eq!(state(backend, b.id()).await, Some(JobState::Scheduled));
    schedule(backend, t.at(0.9)).await;
    assert!(
        claim(backend, t.at(0.9), 1).await.is_empty(),
        "retried before its backoff"
    );
    schedule(backend, t.at(1.0)).await;
    let second = claim(backend, t.at(1.0), 1).await;
    assert_eq!(second[0].attempt, 2);
    assert_eq!(
        fail(
            backend,
            t.at(1.0),
            second[0].lease(),
            Duration::from_secs(2)
        )
        .await,
        JobFailOutcome::Retrying
    );
    schedule(backend, t.at(3.0)).await;
    let third = claim(backend, t.at(3.0), 1).await;
    assert_eq!(third[0].attempt, 3);
    assert_eq!(
        fail(backend, t.at(3.0), third[0].lease(), Duration::from_secs(4)).await,
        JobFailOutcome::Failed
    );

    assert_eq!(state(backend, b.id()).await, Some(JobState::Failed));
    assert!(
        backend.job_exists(b.id()).await.unwrap(),
        "a failed job must stay inspectable"
    );
    schedule(backend, t.at(100.0)).await;
    assert!(
        claim(backend, t.at(100.0), 1).await.is_empty(),
        "a failed job ran again"
    );
    // The stale lease of a finished attempt changes nothing.
    assert_eq!(
        fail(backend, t.at(100.0), third[0].lease(), Duration::ZERO).await,
        JobFailOutcome::LeaseLost
    );
}

/// A retry without delay is ready at once.
pub async fn job_fail_without_delay_is_ready_at_once(backend: &dyn Backend) {
    let t = Clock::new();
    let b = job("j", "c");
    insert(backend, t.at(0.0), &[&b]).await;
    let first = claim(backend, t.at(0.0), 1).await;
    fail(backend, t.at(0.0), first[0].lease(), Duration::ZERO).await;
    assert_eq!(state(backend, b.id()).await, Some(JobState::Ready));
    assert_eq!(claim(backend, t.at(0.0), 1).await[0].attempt, 2);
}

/// A released job is ready again without having used an attempt.
pub async fn job_release_does_not_count_the_attempt(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(0);
    insert(backend, t.at(0.0), &[&b]).await;
    let first = claim(backend, t.at(0.0), 1).await;
    let released = backend
        .job_release(JobReleaseParams {
            lease: first[0].lease(),
            delay: Duration::from_secs(5),
            now: t.at(0.0),
        })
        .await
        .unwrap();
    assert!(released);
    assert_eq!(state(backend, b.id()).await, Some(JobState::Scheduled));
    schedule(backend, t.at(5.0)).await;
    let again = claim(backend, t.at(5.0), 1).await;
    assert_eq!(again[0].attempt, 1, "a release counted as an attempt");
    assert_eq!(again[0].lease_token, 2, "a lease token was reused");
    // The released claim's lease is void.
    assert!(complete(backend, &[first[0].lease()]).await.is_empty());
}

/// Keep-alive moves the lease forward; a stale lease is not kept.
pub async fn job_keep_alive_extends_the_lease(backend: &dyn Backend) {
    let t = Clock::new();
    let b = job("j", "c");
    insert(backend, t.at(0.0), &[&b]).await;
    let claimed = claim(backend, t.at(0.0), 1).await; // lease until 30
    let lease = claimed[0].lease();
    let stale = JobLease {
        id: lease.id,
        token: lease.token + 1,
    };
    let kept = backend
        .job_keep_alive(JobKeepAliveParams {
            leases: &[lease, stale],
            lease: Duration::from_secs(30),
            now: t.at(20.0),
        })
        .await
        .unwrap();
    assert_eq!(kept, vec![lease]);
    assert_eq!(
        schedule(backend, t.at(49.0)).await.rescued,
        0,
        "kept job rescued early"
    );
    assert!(claim(backend, t.at(49.0), 1).await.is_empty());
    assert_eq!(schedule(backend, t.at(50.0)).await.rescued, 1);
}

/// A job whose lease lapses is ready again, and its old lease is void.
pub async fn job_schedule_rescues_lapsed_leases(backend: &dyn Backend) {
    let t = Clock::new();
    let b = job("j", "c");
    insert(backend, t.at(0.0), &[&b]).await;
    let first = claim(backend, t.at(0.0), 1).await;
    assert_eq!(schedule(backend, t.at(29.0)).await.rescued, 0);
    assert!(
        claim(backend, t.at(29.0), 1).await.is_empty(),
        "job handed out while its lease held"
    );
    assert_eq!(schedule(backend, t.at(30.0)).await.rescued, 1);
    let second = claim(backend, t.at(30.0), 1).await;
    assert_eq!(second[0].attempt, 2);
    assert!(
        complete(backend, &[first[0].lease()]).await.is_empty(),
        "the old lease completed the job"
    );
    assert_eq!(complete(backend, &[second[0].lease()]).await.len(), 1);
}

/// A lapsed lease on the last attempt fails the job.
pub async fn job_schedule_fails_lapsed_last_attempts(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(0);
    insert(backend, t.at(0.0), &[&b]).await;
    claim(backend, t.at(0.0), 1).await;
    assert_eq!(schedule(backend, t.at(31.0)).await.rescued, 1);
    assert_eq!(state(backend, b.id()).await, Some(JobState::Failed));
}

/// The schedule says when the next transition is due.
pub async fn job_schedule_reports_the_next_due_time(backend: &dyn Backend) {
    let t = Clock::new();
    assert_eq!(schedule(backend, t.at(0.0)).await.next_due_in, None);
    let mut later = job("j", "c");
    later.set_delay(Duration::from_secs(20));
    let mut uncommitted = job("j", "c");
    uncommitted.set_commit_interval(Some(Duration::from_secs(15)));
    insert(backend, t.at(0.0), &[&later, &uncommitted]).await;
    assert_eq!(
        schedule(backend, t.at(0.0)).await.next_due_in,
        Some(Duration::from_secs(15))
    );
    let now = job("j", "c");
    insert(backend, t.at(0.0), &[&now]).await;
    claim(backend, t.at(0.0), 1).await; // lease until 30
    assert_eq!(
        schedule(backend, t.at(16.0)).await.next_due_in,
        Some(Duration::from_secs(4))
    );
}

/// A checkpoint's payload is what the next attempt sees; its extra retries
/// count.
pub async fn job_checkpoint_replaces_payload_and_adds_retries(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(0)
        .set_json(&1)
        .unwrap()
        .set_raw_bytes(b"keep");
    insert(backend, t.at(0.0), &[&b]).await;
    let first = claim(backend, t.at(0.0), 1).await;
    let saved = backend
        .job_checkpoint(JobCheckpointParams {
            lease: first[0].lease(),
            payload_json: Some("{\"step\":2}"),
            payload_bytes: None,
            extra_retries: 1,
        })
        .await
        .unwrap();
    assert!(saved);
    assert_eq!(
        fail(backend, t.at(0.0), first[0].lease(), Duration::ZERO).await,
        JobFailOutcome::Retrying
    );
    let second = claim(backend, t.at(0.0), 1).await;
    assert_eq!(second[0].payload_json.as_deref(), Some("{\"step\":2}"));
    assert_eq!(second[0].payload_bytes.as_deref(), Some(&b"keep"[..]));
    let stale = backend
        .job_checkpoint(JobCheckpointParams {
            lease: first[0].lease(),
            payload_json: Some("3"),
            payload_bytes: None,
            extra_retries: 0,
        })
        .await
        .unwrap();
    assert!(!stale, "a stale lease checkpointed");
}

/// A two-phase job is invisible until committed.
pub async fn job_commit_makes_jobs_visible(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_commit_interval(Some(Duration::from_secs(60)));
    insert(backend, t.at(0.0), &[&b]).await;
    assert_eq!(state(backend, b.id()).await, Some(JobState::Uncommitted));
    schedule(backend, t.at(1.0)).await;
    assert!(
        claim(backend, t.at(1.0), 1).await.is_empty(),
        "an uncommitted job ran"
    );
    let missing = backend
        .job_commit(JobCommitParams {
            ids: &[b.id()],
            now: t.at(1.0),
        })
        .await
        .unwrap();
    assert!(missing.is_empty());
    assert_eq!(ids(&claim(backend, t.at(1.0), 1).await), vec![b.id()]);
}

/// Committing unknown ids reports them; committing twice does not.
pub async fn job_commit_reports_missing_jobs(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_commit_interval(Some(Duration::from_secs(60)));
    insert(backend, t.at(0.0), &[&b]).await;
    let unknown = Uuid::now_v7();
    let missing = backend
        .job_commit(JobCommitParams {
            ids: &[b.id(), unknown],
            now: t.at(0.0),
        })
        .await
        .unwrap();
    assert_eq!(missing, vec![unknown]);
    let again = backend
        .job_commit(JobCommitParams {
            ids: &[b.id()],
            now: t.at(0.0),
        })
        .await
        .unwrap();
    assert!(
        again.is_empty(),
        "committing twice reported the job missing"
    );
}

/// An uncommitted job whose interval lapses is discarded, never run.
pub async fn job_commit_lapsed_jobs_are_discarded(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_commit_interval(Some(Duration::from_secs(10)));
    insert(backend, t.at(0.0), &[&b]).await;
    assert_eq!(schedule(backend, t.at(10.0)).await.discarded, 1);
    assert!(!backend.job_exists(b.id()).await.unwrap());
    let missing = backend
        .job_commit(JobCommitParams {
            ids: &[b.id()],
            now: t.at(10.0),
        })
        .await
        .unwrap();
    assert_eq!(missing, vec![b.id()]);
    assert!(claim(backend, t.at(10.0), 1).await.is_empty());
}

/// An uncommitted ordered job holds its place: later ordered jobs wait for
/// it to be committed and run, or discarded.
pub async fn job_commit_ordered_reserves_the_position(backend: &dyn Backend) {
    let t = Clock::new();
    let mut reserved = job("o", "c");
    reserved
        .set_ordered(true)
        .set_commit_interval(Some(Duration::from_secs(60)));
    let mut next = job("o", "c");
    next.set_ordered(true);
    insert(backend, t.at(0.0), &[&reserved]).await;
    insert(backend, t.at(0.0), &[&next]).await;
    assert!(
        claim(backend, t.at(0.0), 10).await.is_empty(),
        "jumped an uncommitted reservation"
    );
    backend
        .job_commit(JobCommitParams {
            ids: &[reserved.id()],
            now: t.at(1.0),
        })
        .await
        .unwrap();
    let first = claim(backend, t.at(1.0), 10).await;
    assert_eq!(ids(&first), vec![reserved.id()]);
    complete(backend, &[first[0].lease()]).await;
    assert_eq!(ids(&claim(backend, t.at(1.0), 10).await), vec![next.id()]);

    // A reservation that lapses releases the channel.
    let mut lapsing = job("o", "d");
    lapsing
        .set_ordered(true)
        .set_commit_interval(Some(Duration::from_secs(5)));
    let mut after = job("o", "d");
    after.set_ordered(true);
    insert(backend, t.at(0.0), &[&lapsing]).await;
    insert(backend, t.at(0.0), &[&after]).await;
    let only_d = ["d".to_owned()];
    assert!(
        claim_with(backend, t.at(1.0), 10, Some(&only_d), None)
            .await
            .is_empty()
    );
    assert_eq!(schedule(backend, t.at(5.0)).await.discarded, 1);
    assert_eq!(
        ids(&claim_with(backend, t.at(5.0), 10, Some(&only_d), None).await),
        vec![after.id()]
    );
}

/// Clearing deletes the jobs of the given channel names, in any state.
pub async fn job_clear_deletes_by_channel_name_or_all(backend: &dyn Backend) {
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

/// The state follows a job through its life.
pub async fn job_state_follows_the_job(backend: &dyn Backend) {
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

async fn get(backend: &dyn Backend, id: Uuid) -> Option<JobInfo> {
    backend.job_get(JobGetParams { id }).await.expect("job_get")
}

async fn fail_with(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    lease: JobLease,
    error: &str,
) -> JobFailOutcome {
    backend
        .job_fail(JobFailParams {
            lease,
            retry_delay: Duration::ZERO,
            error,
            now,
        })
        .await
        .expect("job_fail")
}

async fn retry(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    ids: Option<&[Uuid]>,
    channel_name: Option<&str>,
) -> Vec<Uuid> {
    backend
        .job_retry(JobRetryParams {
            ids,
            channel_name,
            now,
        })
        .await
        .expect("job_retry")
}

async fn delete(backend: &dyn Backend, ids: &[Uuid]) -> Vec<Uuid> {
    backend
        .job_delete(JobDeleteParams { ids })
        .await
        .expect("job_delete")
}

/// Inserts a job with no retries on `channel` and fails its one attempt:
/// a job failed for good.
async fn failed_job(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    mut builder: JobBuilder,
) -> Uuid {
    builder.set_retries(0);
    insert(backend, now, &[&builder]).await;
    let names = [builder.job().channel_name.clone()];
    let claimed = claim_with(backend, now, 1, Some(&names), None).await;
    assert_eq!(ids(&claimed), vec![builder.id()], "fixture: claim the job");
    assert_eq!(
        fail(backend, now, claimed[0].lease(), Duration::ZERO).await,
        JobFailOutcome::Failed
    );
    builder.id()
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

/// A failed ordered job holds its channel, visibly failed, until it is
/// retried (and completes) or deleted.
pub async fn job_claim_is_blocked_by_a_failed_ordered_job_until_retried_or_deleted(
    backend: &dyn Backend,
) {
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

/// With `keep_completed`, a completed job stays, in state completed with
/// its completion time, but does not exist for `job_exists`, never runs
/// again and no longer holds its ordered channel.
pub async fn job_complete_keep_completed_keeps_the_job_out_of_the_way(backend: &dyn Backend) {
    let t = Clock::new();
    let mut first = job("o", "c");
    first.set_ordered(true).set_json(&"kept").unwrap();
    let mut second = job("o", "c");
    second.set_ordered(true);
    insert(backend, t.at(0.0), &[&first]).await;
    insert(backend, t.at(0.0), &[&second]).await;
    let claimed = claim(backend, t.at(0.0), 10).await;
    assert_eq!(ids(&claimed), vec![first.id()]);
    let lease = claimed[0].lease();
    let done = backend
        .job_complete(JobCompleteParams {
            leases: &[lease],
            keep_completed: true,
            now: t.at(5.0),
        })
        .await
        .expect("job_complete");
    assert_eq!(done, vec![lease]);
    assert_eq!(state(backend, first.id()).await, Some(JobState::Completed));
    assert!(
        !backend.job_exists(first.id()).await.unwrap(),
        "a kept completed job still exists"
    );
    let kept = get(backend, first.id()).await.expect("the job is kept");
    assert_eq!(kept.state, JobState::Completed);
    assert_eq!(kept.run_at, t.at(5.0).unwrap());
    assert_eq!(kept.attempt, 1);
    assert_eq!(kept.payload_json.as_deref(), Some("\"kept\""));

    let next = claim(backend, t.at(5.0), 10).await;
    assert_eq!(
        ids(&next),
        vec![second.id()],
        "a kept completed job held its ordered channel"
    );
    complete(backend, &[next[0].lease()]).await;
    let again = backend
        .job_complete(JobCompleteParams {
            leases: &[lease],
            keep_completed: true,
            now: t.at(6.0),
        })
        .await
        .unwrap();
    assert!(again.is_empty(), "completed twice");
    schedule(backend, t.at(1000.0)).await;
    assert_eq!(state(backend, first.id()).await, Some(JobState::Completed));
    assert!(claim(backend, t.at(1000.0), 10).await.is_empty());
}

/// Each failed attempt is recorded with its number and time, whether the
/// job failed it or its lease lapsed.
pub async fn job_fail_records_the_error_history(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(1);
    insert(backend, t.at(0.0), &[&b]).await;
    assert!(get(backend, b.id()).await.unwrap().errors.is_empty());
    let first = claim(backend, t.at(0.0), 1).await;
    assert_eq!(
        fail_with(backend, t.at(1.0), first[0].lease(), "the first went wrong").await,
        JobFailOutcome::Retrying
    );
    claim(backend, t.at(1.0), 1).await; // lease until 31
    assert_eq!(schedule(backend, t.at(40.0)).await.rescued, 1);

    let failed = get(backend, b.id()).await.unwrap();
    assert_eq!(failed.state, JobState::Failed);
    assert_eq!(failed.attempt, 2);
    let history: Vec<(i32, OffsetDateTime, &str)> = failed
        .errors
        .iter()
        .map(|e| (e.attempt, e.at, e.error.as_str()))
        .collect();
    assert_eq!(
        history,
        vec![
            (1, t.at(1.0).unwrap(), "the first went wrong"),
            (
                2,
                t.at(40.0).unwrap(),
                "the job's lease expired before it finished"
            ),
        ]
    );
    assert_eq!(
        failed.last_error().map(|e| e.attempt),
        Some(2),
        "the last error is the latest"
    );
}

/// The history keeps the latest `MAX_ERROR_HISTORY` failed attempts.
pub async fn job_fail_keeps_the_latest_errors(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(100);
    insert(backend, t.at(0.0), &[&b]).await;
    let attempts = MAX_ERROR_HISTORY as i32 + 5;
    for attempt in 1..=attempts {
        let claimed = claim(backend, t.at(0.0), 1).await;
        assert_eq!(claimed[0].attempt, attempt);
        fail_with(
            backend,
            t.at(0.0),
            claimed[0].lease(),
            &format!("error {attempt}"),
        )
        .await;
    }
    let errors = get(backend, b.id()).await.unwrap().errors;
    assert_eq!(errors.len(), MAX_ERROR_HISTORY);
    let kept: Vec<i32> = errors.iter().map(|e| e.attempt).collect();
    let expected: Vec<i32> = (6..=attempts).collect();
    assert_eq!(kept, expected);
    assert_eq!(errors.last().unwrap().error, format!("error {attempts}"));
}

/// Whoever calls `job_fail`, the stored error is at most 4 KiB, cut at a
/// character boundary, and NUL characters do not break it.
pub async fn job_fail_bounds_the_error_text(backend: &dyn Backend) {
    let t = Clock::new();
    let mut b = job("j", "c");
    b.set_retries(5);
    insert(backend, t.at(0.0), &[&b]).await;
    let long = "é".repeat(10_000);
    let first = claim(backend, t.at(0.0), 1).await;
    fail_with(backend, t.at(0.0), first[0].lease(), &long).await;
    let second = claim(backend, t.at(0.0), 1).await;
    fail_with(backend, t.at(0.0), second[0].lease(), "a\0b").await;
    let errors = get(backend, b.id()).await.unwrap().errors;
    let max = crate::registry::MAX_ERROR_TEXT;
    assert!(
        errors[0].error.len() <= max,
        "{} bytes",
        errors[0].error.len()
    );
    assert!(errors[0].error.len() > max - 4);
    assert!(long.starts_with(&errors[0].error));
    assert_eq!(errors[1].error, "a\u{fffd}b");
}

/// `job_get` returns what was spawned, and the job's progress.
pub async fn job_get_returns_everything_stored(backend: &dyn Backend) {
    let t = Clock::new();
    assert_eq!(get(backend, Uuid::now_v7()).await, None);
    let mut b = job("full", "c");
    b.set_channel_args("args")
        .set_json(&serde_json::json!({"k": [1, 2]}))
        .unwrap()
        .set_raw_bytes([0u8, 255])
        .set_retries(3)
        .set_retry_backoff(Duration::from_millis(2500))
        .set_ordered(true)
        .set_delay(Duration::from_secs(10));
    let mut two_phase = job("two-phase", "c");
    two_phase.set_commit_interval(Some(Duration::from_secs(60)));
    insert(backend, t.at(0.0), &[&b, &two_phase]).await;
    let wall_clock = OffsetDateTime::now_utc();

    let got = get(backend, b.id()).await.expect("the job exists");
    assert_eq!(got.id, b.id());
    assert_eq!(got.state, JobState::Scheduled);
    assert_eq!(got.name, "full");
    assert_eq!(got.channel_name, "c");
    assert_eq!(got.channel_args, "args");
    assert!(got.ordered);
    assert_eq!(got.attempt, 0);
    assert_eq!(got.retries, 3);
    assert_eq!(got.retry_backoff, Duration::from_millis(2500));
    assert_eq!(got.run_at, t.at(10.0).unwrap());
    assert_eq!(got.commit_deadline, None);
    // The spawn time comes from the backend's own clock.
    assert!((got.created_at - wall_clock).abs() < time::Duration::minutes(5));
    let payload: serde_json::Value =
        serde_json::from_str(got.payload_json.as_deref().unwrap()).unwrap();
    assert_eq!(payload, serde_json::json!({"k": [1, 2]}));
    assert_eq!(got.payload_bytes.as_deref(), Some(&[0u8, 255][..]));
    assert!(got.errors.is_empty());

    let uncommitted = get(backend, two_phase.id()).await.unwrap();
    assert_eq!(uncommitted.state, JobState::Uncommitted);
    assert_eq!(uncommitted.commit_deadline, t.at(60.0));
    assert!(
        uncommitted.seq > got.seq,
        "spawn order: {} then {}",
        got.seq,
        uncommitted.seq
    );
}

/// `job_list` filters by channel name and state, in spawn order, a page at
/// a time.
pub async fn job_list_filters_and_pages_in_spawn_order(backend: &dyn Backend) {
    let t = Clock::new();
    let list = |channel_name, state, after_seq, limit| async move {
        backend
            .job_list(JobListParams {
                channel_name,
                state,
                after_seq,
                limit,
            })
            .await
            .expect("job_list")
    };
    let failed = failed_job(backend, t.at(0.0), job("j", "a")).await;
    let mut spawned = vec![failed];
    for channel in ["a", "b", "a", "b", "a", "a"] {
        let mut b = job("j", channel);
        b.set_channel_args(format!("{channel}-args"));
        spawned.extend(insert(backend, t.at(0.0), &[&b]).await);
    }
    let all = list(None, None, None, 100).await;
    assert_eq!(all.iter().map(|j| j.id).collect::<Vec<_>>(), spawned);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(all[0].state, JobState::Failed);
    assert_eq!(
        all[0].last_error.as_ref().map(|e| e.error.as_str()),
        Some("boom")
    );
    assert!(all[1..].iter().all(|j| j.last_error.is_none()));
    assert_eq!(all[1].channel_args, "a-args");

    let a = list(Some("a"), None, None, 100).await;
    assert_eq!(a.len(), 5);
    assert!(a.iter().all(|j| j.channel_name == "a"));
    let failed_only = list(None, Some(JobState::Failed), None, 100).await;
    assert_eq!(
        failed_only.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![failed]
    );
    assert_eq!(
        list(Some("b"), Some(JobState::Ready), None, 100)
            .await
            .len(),
        2
    );
    assert!(
        list(Some("b"), Some(JobState::Failed), None, 100)
            .await
            .is_empty()
    );
    assert!(list(Some("nothing"), None, None, 100).await.is_empty());

    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = list(None, None, after, 3).await;
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.seq);
        paged.extend(page.iter().map(|j| j.id));
    }
    assert_eq!(paged, spawned);
    let a_page = list(Some("a"), Some(JobState::Ready), Some(all[1].seq), 2).await;
    assert_eq!(
        a_page.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![spawned[3], spawned[5]]
    );
}

/// A retried job is ready at once with all its attempts, keeps its error
/// history, and old leases stay fenced; jobs that are not failed are left
/// alone.
pub async fn job_retry_makes_failed_jobs_ready_with_fresh_attempts(backend: &dyn Backend) {
    let t = Clock::new();
    let only_c = ["c".to_owned()];
    let mut b = job("j", "c");
    b.set_retries(1);
    let ready = job("j", "other");
    insert(backend, t.at(0.0), &[&b, &ready]).await;
    let first = claim_with(backend, t.at(0.0), 1, Some(&only_c), None).await;
    fail(backend, t.at(0.0), first[0].lease(), Duration::ZERO).await;
    let second = claim_with(backend, t.at(0.0), 1, Some(&only_c), None).await;
    assert_eq!(
        fail(backend, t.at(0.0), second[0].lease(), Duration::ZERO).await,
        JobFailOutcome::Failed
    );

    let unknown = Uuid::now_v7();
    let retried = retry(
        backend,
        t.at(5.0),
        Some(&[b.id(), ready.id(), unknown]),
        None,
    )
    .await;
    assert_eq!(retried, vec![b.id()]);
    let job = get(backend, b.id()).await.unwrap();
    assert_eq!(job.state, JobState::Ready);
    assert_eq!(job.attempt, 0, "attempts count from zero again");
    assert_eq!(job.run_at, t.at(5.0).unwrap());
    assert_eq!(job.errors.len(), 2, "the error history is kept");
    assert_eq!(state(backend, ready.id()).await, Some(JobState::Ready));

    // The lease of the failed attempt is still void.
    assert!(complete(backend, &[second[0].lease()]).await.is_empty());
    assert_eq!(
        fail(backend, t.at(5.0), second[0].lease(), Duration::ZERO).await,
        JobFailOutcome::LeaseLost
    );
    let third = claim_with(backend, t.at(5.0), 1, Some(&only_c), None).await;
    assert_eq!(third[0].attempt, 1);
    assert!(
        third[0].lease_token > second[0].lease_token,
        "a lease token was reused"
    );
    assert!(
        retry(backend, t.at(5.0), Some(&[b.id()]), None)
            .await
            .is_empty(),
        "a running job was retried"
    );
    // With attempts left again, a failure is retried, not final.
    assert_eq!(
        fail(backend, t.at(5.0), third[0].lease(), Duration::ZERO).await,
        JobFailOutcome::Retrying
    );
}

/// Retrying every failed job, or those of one channel name; listeners
/// hear about the retried jobs' channels.
pub async fn job_retry_by_channel_name_and_wakes_listeners(backend: &dyn Backend) {
    let t = Clock::new();
    let mut x1 = job("j", "x");
    x1.set_channel_args("1");
    let x1 = failed_job(backend, t.at(0.0), x1).await;
    let x2 = failed_job(backend, t.at(0.0), job("j", "x")).await;
    let y = failed_job(backend, t.at(0.0), job("j", "y")).await;
    let mut wakeups = backend.listen().await.expect("listen");
    let spawner = backend.spawner();

    let retried = retry(backend, t.at(1.0), None, Some("x")).await;
    assert_eq!(sorted(retried), sorted(vec![x1, x2]));
    assert_eq!(state(backend, y).await, Some(JobState::Failed));
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
    assert!(retry(backend, t.at(1.0), None, None).await.is_empty());
    assert!(
        retry(backend, t.at(1.0), Some(&[x1]), Some("y"))
            .await
            .is_empty(),
        "the channel name filter was ignored"
    );
}

/// Jobs are deleted in any state; a runner holding one loses its lease.
pub async fn job_delete_removes_jobs_in_any_state(backend: &dyn Backend) {
    let t = Clock::new();
    let failed = failed_job(backend, t.at(0.0), job("j", "f")).await;
    let running = job("j", "r");
    insert(backend, t.at(0.0), &[&running]).await;
    let held = claim(backend, t.at(0.0), 1).await;
    assert_eq!(ids(&held), vec![running.id()]);
    let ready = job("j", "c");
    let mut scheduled = job("j", "c");
    scheduled.set_delay(Duration::from_secs(60));
    let mut uncommitted = job("j", "c");
    uncommitted.set_commit_interval(Some(Duration::from_secs(60)));
    let keep = job("j", "c");
    insert(
        backend,
        t.at(0.0),
        &[&ready, &scheduled, &uncommitted, &keep],
    )
    .await;

    let doomed = vec![
        failed,
        running.id(),
        ready.id(),
        scheduled.id(),
        uncommitted.id(),
    ];
    let mut asked = doomed.clone();
    asked.push(Uuid::now_v7());
    assert_eq!(
        sorted(delete(backend, &asked).await),
        sorted(doomed.clone())
    );
    for id in &doomed {
        assert_eq!(get(backend, *id).await, None);
    }
    assert!(backend.job_exists(keep.id()).await.unwrap());
    assert!(
        complete(backend, &[held[0].lease()]).await.is_empty(),
        "a deleted job was completed"
    );
    assert_eq!(
        fail(backend, t.at(0.0), held[0].lease(), Duration::ZERO).await,
        JobFailOutcome::LeaseLost
    );
    assert!(delete(backend, &doomed).await.is_empty());
}

/// Pruning deletes the failed and completed jobs old enough, and nothing
/// else.
pub async fn job_prune_deletes_old_failed_and_completed_jobs(backend: &dyn Backend) {
    let t = Clock::new();
    let prune = |states: &'static [JobState], older_than: u64, now| async move {
        backend
            .job_prune(JobPruneParams {
                states,
                older_than: Duration::from_secs(older_than),
                now,
            })
            .await
            .expect("job_prune")
    };
    let old_failure = failed_job(backend, t.at(0.0), job("j", "a")).await;
    let new_failure = failed_job(backend, t.at(100.0), job("j", "b")).await;
    let done = job("j", "c");
    insert(backend, t.at(0.0), &[&done]).await;
    let held = claim(backend, t.at(0.0), 1).await;
    backend
        .job_complete(JobCompleteParams {
            leases: &[held[0].lease()],
            keep_completed: true,
            now: t.at(0.0),
        })
        .await
        .unwrap();
    let ready = job("j", "d");
    insert(backend, t.at(0.0), &[&ready]).await;

    assert_eq!(prune(&[JobState::Failed], 50, t.at(49.0)).await, 0);
    assert_eq!(prune(&[JobState::Failed], 50, t.at(100.0)).await, 1);
    assert_eq!(get(backend, old_failure).await, None);
    assert_eq!(state(backend, done.id()).await, Some(JobState::Completed));
    assert_eq!(
        prune(&[JobState::Failed, JobState::Completed], 50, t.at(150.0)).await,
        2
    );
    assert_eq!(get(backend, new_failure).await, None);
    assert_eq!(get(backend, done.id()).await, None);
    assert_eq!(state(backend, ready.id()).await, Some(JobState::Ready));
    assert_eq!(
        prune(&[JobState::Failed, JobState::Completed], 0, t.at(1e6)).await,
        0
    );
}

/// The stats count jobs per channel name and state, with ordered jobs and
/// the age of the oldest ready job.
pub async fn job_stats_counts_per_channel_name_and_state(backend: &dyn Backend) {
    let t = Clock::new();
    let stats = |now| async move {
        backend
            .job_stats(JobStatsParams { now })
            .await
            .expect("job_stats")
    };
    assert!(stats(t.at(0.0)).await.is_empty());
    let mut blocking = job("j", "b");
    blocking.set_ordered(true);
    failed_job(backend, t.at(0.0), blocking).await;
    let running = job("j", "b");
    insert(backend, t.at(0.0), &[&running]).await;
    claim(backend, t.at(0.0), 1).await;
    let mut a1 = job("j", "a");
    a1.set_channel_args("1");
    let a2 = job("j", "a");
    let mut later = job("j", "a");
    later.set_delay(Duration::from_secs(60));
    insert(backend, t.at(2.0), &[&a1]).await;
    insert(backend, t.at(4.0), &[&a2, &later]).await;

    let rows: Vec<(String, JobState, u64, u64, Option<Duration>)> = stats(t.at(10.0))
        .await
        .into_iter()
        .map(|r| {
            (
                r.channel_name,
                r.state,
                r.count,
                r.ordered,
                r.oldest_ready_age,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("a".into(), JobState::Scheduled, 1, 0, None),
            (
                "a".into(),
                JobState::Ready,
                2,
                0,
                Some(Duration::from_secs(8))
            ),
            ("b".into(), JobState::Running, 1, 0, None),
            ("b".into(), JobState::Failed, 1, 1, None),
        ]
    );
}

async fn next_wakeup(
    spawner: &dyn crate::Spawner,
    wakeups: &mut futures::stream::BoxStream<'static, Wakeup>,
) -> Wakeup {
    timeout(spawner, Duration::from_secs(10), wakeups.next())
        .await
        .expect("no wake-up within 10 s")
        .expect("the wake-up stream ended")
}

/// Listeners hear about spawned and committed jobs, with their channel.
pub async fn listen_wakes_up_on_insert_and_commit(backend: &dyn Backend) {
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

/// Vacuuming, alone or twice at once, succeeds and loses no live job.
pub async fn job_vacuum_keeps_every_live_job(backend: &dyn Backend) {
    let t = Clock::new();
    let builders: Vec<JobBuilder> = (0..50).map(|_| job("j", "c")).collect();
    insert(backend, t.at(0.0), &builders.iter().collect::<Vec<_>>()).await;
    let done = claim(backend, t.at(0.0), 20).await;
    let leases: Vec<JobLease> = done.iter().map(ClaimedJob::lease).collect();
    complete(backend, &leases).await;
    let (a, b) = futures::join!(backend.job_vacuum(), backend.job_vacuum());
    a.expect("job_vacuum");
    b.expect("job_vacuum");
    backend.job_vacuum().await.expect("job_vacuum");
    assert_eq!(
        claim(backend, t.at(0.0), 100).await.len(),
        30,
        "a vacuum lost live jobs"
    );
}

/// Completing a batch while keeping the same jobs alive in the opposite
/// order, over and over, never fails: batch statements take their row
/// locks in one order.
pub async fn job_complete_and_keep_alive_never_deadlock(backend: &dyn Backend) {
    let t = Clock::new();
    for round in 0..10 {
        let builders: Vec<JobBuilder> = (0..200).map(|_| job("j", "c")).collect();
        insert(backend, t.at(0.0), &builders.iter().collect::<Vec<_>>()).await;
        let claimed = claim(backend, t.at(0.0), 200).await;
        assert_eq!(claimed.len(), 200);
        let leases: Vec<JobLease> = claimed.iter().map(ClaimedJob::lease).collect();
        let mut reversed = leases.clone();
        reversed.reverse();
        let (completed, kept) = futures::join!(
            backend.job_complete(JobCompleteParams {
                leases: &leases,
                keep_completed: false,
                now: t.at(0.0),
            }),
            backend.job_keep_alive(JobKeepAliveParams {
                leases: &reversed,
                lease: LEASE,
                now: t.at(0.0),
            }),
        );
        let completed = completed.unwrap_or_else(|e| panic!("round {round}: job_complete: {e:?}"));
        kept.unwrap_or_else(|e| panic!("round {round}: job_keep_alive: {e:?}"));
        assert_eq!(completed.len(), 200, "round {round}");
    }
}
