//! The backend conformance suite.
//!
//! Every case is a plain async function that takes a fresh, migrated,
//! empty backend and panics if the backend breaks the semantics. Cases
//! insert their own fixtures through the backend and use an explicit clock
//! (`now`), so they neither sleep nor depend on the machine's speed.
//!
//! [`conformance_tests!`](crate::conformance_tests) turns the whole suite
//! into one test per case for a backend factory; the in-memory backend and
//! both PostgreSQL drivers run it, and so can a backend of your own. In a
//! test file (through the `mq` crate, the macro is `mq::conformance_tests!`
//! and the runtime `mq::default_spawner()`):
//!
//! ```
//! # use mq_core::conformance_tests;
//! # use mq_core::memory::MemoryBackend;
//! # use mq_runtime_tokio::TokioSpawner;
//! use std::sync::Arc;
//!
//! // A factory for a fresh, empty backend. Yours would connect to a new
//! // database (or return a `(guard, backend)` pair that drops it).
//! async fn backend() -> MemoryBackend {
//!     MemoryBackend::new()
//! }
//!
//! // The runtime the tests run on, for the cases that wait for wake-ups.
//! conformance_tests!(#[tokio::test], backend, Arc::new(TokioSpawner::new()));
//! ```
//!
//! A case can also be called on its own, as a plain async function of a
//! `&dyn Backend`: `job_claim::never_hands_a_job_out_twice(&backend).await`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::backend::{
    Backend, ChannelKey, ClaimTarget, ClaimedJob, JobCheckpointParams, JobClaimParams,
    JobCommitParams, JobCompleteParams, JobDeleteParams, JobFailOutcome, JobFailParams, JobFailure,
    JobFilter, JobGetParams, JobInfo, JobInsertParams, JobKeepAliveParams, JobLease, JobListParams,
    JobReleaseParams, JobRetryParams, JobScheduleParams, JobState, JobStatsParams, JobVacuumParams,
    LeaseOutcome, ListenParams, MAX_ERROR_HISTORY, Spawned, Wakeup, claim_cursor,
};
use crate::builder::JobBuilder;
use crate::ext::BackendExt;
use crate::spawner::{Spawner, timeout};

/// Generates one test per conformance case for a backend: a module per
/// operation (`job_claim`, `job_complete`...) with a test per case.
///
/// `$factory` is an async function (or path to one) returning a fresh,
/// migrated, empty backend, or a `(guard, backend)` pair (see
/// [`AsBackend`](crate::conformance::AsBackend)); `$spawner` an expression
/// for the [`Spawner`](crate::Spawner) of the runtime the tests run on
/// (the wake-up cases need one); the attributes (for example
/// `#[tokio::test]`) go on every generated test.
#[macro_export]
macro_rules! conformance_tests {
    ($(#[$attr:meta])+ $(,)? $factory:path, $spawner:expr $(,)?) => {
        $crate::conformance_tests!(@modules [$(#[$attr])+] ($factory);
            job_insert {
                makes_jobs_claimable,
                batch_is_one_call,
                duplicate_id_inserts_nothing,
                accepts_any_channel_name,
                delayed_waits_for_its_time,
                unique_keys_insert_one_job_per_key,
                finished_jobs_give_their_key_up,
                unique_for_holds_the_key_after_completion,
                retried_jobs_run_without_their_key,
                carries_the_trace_context,
                carries_the_tick,
            },
            job_claim {
                respects_the_limit,
                follows_spawn_order_within_a_channel,
                filters_by_channel_names,
                is_fair_across_channels,
                runs_ordered_jobs_one_at_a_time,
                orders_each_channel_args_separately,
                never_hands_a_job_out_twice,
                hands_out_the_retry_policy,
                hands_out_the_timeout,
                is_blocked_by_a_failed_ordered_job_until_retried_or_deleted,
                unblocks_ordered_jobs_in_turn,
                is_not_starved_by_blocked_ordered_channels,
                blocks_ordered_jobs_spawned_behind_a_running_head,
                numbers_jobs_in_the_order_they_became_ready,
                targeted_claims_start_at_the_given_place,
                targeted_claims_visit_targets_in_order,
                takes_higher_priorities_first,
                priorities_keep_fairness_and_order,
                targeted_claims_take_one_priority,
            },
            job_complete {
                deletes_the_job,
                is_fenced_by_the_lease,
                keep_completed_keeps_the_job_out_of_the_way,
            },
            job_fail {
                retries_with_backoff_then_fails,
                without_delay_is_ready_at_once,
                records_the_error_history,
                keeps_the_latest_errors,
                bounds_the_error_text,
            },
            job_release {
                does_not_count_the_attempt,
                gives_back_a_batch,
            },
            job_keep_alive {
                extends_the_lease,
                never_deadlocks_with_job_complete,
            },
            job_checkpoint {
                replaces_payload_and_adds_retries,
                with_keep_alive_extends_the_lease,
            },
            job_commit {
                makes_jobs_visible,
                reports_missing_jobs,
                lapsed_jobs_are_discarded,
                ordered_reserves_the_position,
                concurrent_commits_of_one_job_all_succeed,
            },
            job_schedule {
                rescues_lapsed_leases,
                fails_lapsed_last_attempts,
                reports_the_next_due_time,
            },
            job_get {
                returns_everything_stored,
                tells_an_ordered_jobs_place,
            },
            job_list {
                filters_and_pages_in_id_order,
                reports_the_state_through_a_jobs_life,
                filters_by_job_name,
            },
            job_retry {
                makes_failed_jobs_ready_with_fresh_attempts,
                by_channel_name,
            },
            job_delete {
                removes_jobs_in_any_state,
                clears_channel_names_or_everything,
                prunes_old_failed_and_completed_jobs,
            },
            job_stats {
                counts_per_channel_name_and_state,
            },
            job_vacuum {
                keeps_every_live_job,
            },
            job_cancel {
                cancels_jobs_that_have_not_started,
                fences_a_running_job,
                leaves_finished_jobs_alone,
                frees_its_ordered_channel,
                are_pruned_by_age,
            },
            channel_pause {
                paused_channels_are_not_claimed,
                paused_channels_do_not_starve_the_others,
                is_listed_and_idempotent,
                holds_jobs_that_become_ready_while_paused,
            },
            channel_limit {
                limits_are_set_replaced_and_removed,
                bad_limits_are_refused,
                ordinary_claims_pass_limited_channels_over,
            },
            job_claim_limited {
                claims_no_more_than_the_concurrency,
                starts_no_more_than_the_rate,
                per_args_limits_hold_each_argument_apart,
                only_limited_unpaused_channels_give_jobs,
                targeted_limited_claims_start_at_their_places,
                random_claims_take_exactly_the_room_left,
                concurrent_claims_share_the_room,
                limits_hold_while_claims_and_completions_interleave,
                large_limits_hold_under_concurrent_claims,
            },
            schedule_declare {
                takes_free_leases_and_renews_its_own,
                a_changed_cadence_starts_again,
                the_newest_definition_wins,
                random_declarations_keep_the_newest_definition,
                an_older_definition_taken_up_again_keeps_its_time,
                declares_many_at_once,
                prunes_schedules_no_one_declares,
            },
            schedule_fire {
                fires_each_due_time_once,
                only_the_leader_fires,
                a_tick_spawned_already_is_a_duplicate,
                a_failed_insert_fires_nothing,
                random_firings_spawn_each_tick_once,
            },
            schedule_release {
                hands_leases_over_at_once,
            },
            schedule_list {
                lists_schedules_by_name_with_their_leader,
            },
            activity_record {
                adds_counts_across_reports_and_runners,
                lists_runners_until_they_stop_or_go_unseen,
                prunes_minutes_past_the_retention,
            },
            model {
                random_operations_keep_every_invariant,
            },
        );
        mod listen {
            #[allow(unused_imports)]
            use super::*;
            $crate::conformance_tests!(@runtime_case [$(#[$attr])+] ($factory) ($spawner) wakes_up_on_insert_and_commit);
            $crate::conformance_tests!(@runtime_case [$(#[$attr])+] ($factory) ($spawner) wakes_up_on_retry);
            $crate::conformance_tests!(@runtime_case [$(#[$attr])+] ($factory) ($spawner) wakes_up_on_resume);
            $crate::conformance_tests!(@runtime_case [$(#[$attr])+] ($factory) ($spawner) wakes_up_on_cancel_of_a_running_job);
        }
    };
    (@modules $attrs:tt $factory:tt; $($module:ident { $($case:ident),+ $(,)? }),+ $(,)?) => {
        $(
            mod $module {
                #[allow(unused_imports)]
                use super::*;
                $( $crate::conformance_tests!(@case $attrs $factory $module $case); )+
            }
        )+
    };
    (@case [$(#[$attr:meta])+] ($factory:path) $module:ident $case:ident) => {
        $(#[$attr])+
        async fn $case() {
            let backend = $factory().await;
            $crate::conformance::$module::$case(
                $crate::conformance::AsBackend::as_backend(&backend),
            )
            .await;
        }
    };
    (@runtime_case [$(#[$attr:meta])+] ($factory:path) ($spawner:expr) $case:ident) => {
        $(#[$attr])+
        async fn $case() {
            let backend = $factory().await;
            let spawner: ::std::sync::Arc<dyn $crate::Spawner> = $spawner;
            $crate::conformance::listen::$case(
                $crate::conformance::AsBackend::as_backend(&backend),
                &spawner,
            )
            .await;
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

pub mod activity_record;
pub mod channel_limit;
pub mod channel_pause;
pub mod job_cancel;
pub mod job_checkpoint;
pub mod job_claim;
pub mod job_claim_limited;
pub mod job_commit;
pub mod job_complete;
pub mod job_delete;
pub mod job_fail;
pub mod job_get;
pub mod job_insert;
pub mod job_keep_alive;
pub mod job_list;
pub mod job_release;
pub mod job_retry;
pub mod job_schedule;
pub mod job_stats;
pub mod job_vacuum;
pub mod listen;
pub mod model;
pub mod schedule_declare;
pub mod schedule_fire;
pub mod schedule_list;
pub mod schedule_release;

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
    insert_spawned(backend, now, builders).await;
    builders.iter().map(|b| b.id()).collect()
}

/// Inserts jobs; returns what became of each.
async fn insert_spawned(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    builders: &[&JobBuilder],
) -> Vec<Spawned> {
    backend
        .job_insert(JobInsertParams {
            jobs: builders.iter().map(|b| b.job()).collect(),
            now,
        })
        .await
        .expect("job_insert")
}

/// A job of `name` on channel "u" with the unique key `key`.
fn unique(name: &str, key: &str) -> JobBuilder {
    let mut builder = job(name, "u");
    builder.set_unique_key(key);
    builder
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
            targets: None,
            now,
        })
        .await
        .expect("job_claim")
}

/// A targeted claim (see [`ClaimTarget`]).
async fn claim_targets(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    limit: u32,
    targets: &[ClaimTarget],
) -> Vec<ClaimedJob> {
    backend
        .job_claim(JobClaimParams {
            channel_names: None,
            limit,
            lease: LEASE,
            after: None,
            targets: Some(targets),
            now,
        })
        .await
        .expect("job_claim")
}

/// A claim target: `channel` (no arguments), its jobs of the default
/// priority from place `from_ready_seq` on.
fn target(channel: &str, from_ready_seq: i64) -> ClaimTarget {
    ClaimTarget {
        channel: ChannelKey {
            name: channel.to_owned(),
            args: String::new(),
        },
        priority: 0,
        from_ready_seq,
    }
}

async fn claim(backend: &dyn Backend, now: Option<OffsetDateTime>, limit: u32) -> Vec<ClaimedJob> {
    claim_with(backend, now, limit, None, None).await
}

/// Completes jobs; returns the leases completed.
async fn complete(backend: &dyn Backend, leases: &[JobLease]) -> Vec<JobLease> {
    complete_at(backend, leases, None).await
}

/// Completes jobs at `now` (the clock ordered successors are unblocked
/// by); returns the leases completed. A busy row (a concurrent claim may
/// hold a lock on a row it looked at, until it commits) is tried again.
async fn complete_at(
    backend: &dyn Backend,
    leases: &[JobLease],
    now: Option<OffsetDateTime>,
) -> Vec<JobLease> {
    let mut completed = Vec::new();
    let mut todo = leases.to_vec();
    for _ in 0..1000 {
        if todo.is_empty() {
            break;
        }
        let outcomes = backend
            .job_complete(JobCompleteParams {
                leases: &todo,
                keep_completed: false,
                skip_busy: true,
                now,
            })
            .await
            .expect("job_complete");
        assert_eq!(outcomes.len(), todo.len(), "an outcome per lease");
        todo.clear();
        for (lease, outcome) in outcomes {
            match outcome {
                LeaseOutcome::Done => completed.push(lease),
                LeaseOutcome::Busy => todo.push(lease),
                LeaseOutcome::Lost => {}
            }
        }
    }
    assert!(todo.is_empty(), "leases busy for 1000 tries: {todo:?}");
    completed
}

async fn schedule(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
) -> crate::backend::JobScheduleResult {
    backend
        .job_schedule(JobScheduleParams {
            now,
            settle_ordered: false,
            due_after: None,
        })
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
    fail_one(backend, now, lease, delay, "boom").await
}

/// Fails one attempt; returns what became of it.
async fn fail_one(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    lease: JobLease,
    retry_delay: Duration,
    error: &str,
) -> JobFailOutcome {
    let outcomes = backend
        .job_fail(JobFailParams {
            failures: &[JobFailure {
                lease,
                retry_delay,
                error,
            }],
            now,
        })
        .await
        .expect("job_fail");
    assert_eq!(outcomes.len(), 1, "one outcome per failure");
    assert_eq!(outcomes[0].0, lease);
    outcomes[0].1
}

fn ids(jobs: &[ClaimedJob]) -> Vec<Uuid> {
    jobs.iter().map(|job| job.id).collect()
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
    fail_one(backend, now, lease, Duration::ZERO, error).await
}

/// Retries the failed jobs among `ids` (all if `None`) of channel name
/// `channel_name` (any if `None`), ready at `now`.
async fn retry(
    backend: &dyn Backend,
    now: Option<OffsetDateTime>,
    ids: Option<&[Uuid]>,
    channel_name: Option<&str>,
) -> Vec<Uuid> {
    let names = channel_name.map(|name| vec![name.to_owned()]);
    backend
        .job_retry(JobRetryParams {
            filter: JobFilter {
                ids,
                channel_names: names.as_deref(),
                now,
                ..JobFilter::default()
            },
        })
        .await
        .expect("job_retry")
}

/// Deletes the jobs `ids`; returns those deleted.
async fn delete(backend: &dyn Backend, ids: &[Uuid]) -> Vec<Uuid> {
    delete_where(
        backend,
        JobFilter {
            ids: Some(ids),
            ..JobFilter::default()
        },
    )
    .await
}

/// Deletes the jobs that pass `filter`; returns those deleted.
async fn delete_where(backend: &dyn Backend, filter: JobFilter<'_>) -> Vec<Uuid> {
    backend
        .job_delete(JobDeleteParams { filter })
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

async fn next_wakeup(
    spawner: &dyn crate::Spawner,
    wakeups: &mut futures::stream::BoxStream<'static, Wakeup>,
) -> Wakeup {
    timeout(spawner, Duration::from_secs(10), wakeups.next())
        .await
        .expect("no wake-up within 10 s")
        .expect("the wake-up stream ended")
}

/// The states of jobs, in order.
async fn states(backend: &dyn Backend, ids: &[Uuid]) -> Vec<Option<JobState>> {
    let mut states = Vec::new();
    for id in ids {
        states.push(state(backend, *id).await);
    }
    states
}
