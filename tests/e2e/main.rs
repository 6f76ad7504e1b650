//! End-to-end tests of the facade against a real PostgreSQL.
//!
//! Each test body is generic over the [`support::Driver`] and spawns and
//! sleeps through [`support::rt`], which uses the runtime the test runs on.
//! [`e2e_tests!`] instantiates every body once per driver and runtime, so
//! all four combinations are held to the same behaviour by the same code.

mod activity;
mod admin;
mod bad_input;
mod cancel;
mod channels;
mod drivers;
mod leases;
mod limits;
mod liveness;
mod migrations;
mod ordering;
mod periodic;
mod pgbouncer;
mod registry;
mod retries;
mod runners;
mod spawning;
mod storage;
mod support;
mod transactions;

/// One test per case for a driver on a runtime (the test attribute, and
/// the `support::Runtime` it gives), each on a fresh database. Every test
/// ends by checking that its jobs were handed out on its runtime.
macro_rules! e2e_tests {
    ($mod_name:ident: $driver:ty, $runtime:ident, #[$test:meta]; $($module:ident :: $case:ident),+ $(,)?) => {
        mod $mod_name {
            $(
                #[$test]
                async fn $case() {
                    let db = crate::support::Db::<$driver>::new(crate::support::Runtime::$runtime).await;
                    crate::$module::$case::<$driver>(&db).await;
                    db.assert_jobs_ran_on_the_test_runtime();
                }
            )+
        }
    };
}

macro_rules! all_cases {
    ($mod_name:ident: $driver:ty, $runtime:ident, #[$test:meta]) => {
        e2e_tests!($mod_name: $driver, $runtime, #[$test];
            spawning::spawn_one_and_many_round_trip_payloads,
            spawning::delayed_job_runs_no_earlier_than_its_time,
            spawning::spawn_in_rolled_back_transaction_never_runs,
            spawning::unique_jobs_are_spawned_once,
            retries::retries_back_off_and_stop,
            retries::backoff_is_capped_and_jittered,
            retries::timed_out_attempts_fail_and_retry,
            retries::snoozed_jobs_run_again_without_counting_the_attempt,
            retries::panicking_and_dropped_jobs_are_retried,
            retries::checkpoint_carries_state_to_the_next_attempt,
            retries::runner_survives_failures,
            leases::kept_alive_job_is_never_handed_out_twice,
            leases::job_of_a_dead_runner_comes_back_after_its_lease,
            transactions::completion_is_atomic_with_the_transaction,
            ordering::ordered_jobs_run_one_at_a_time_in_order,
            ordering::two_phase_commit_hides_discards_and_reserves,
            channels::busy_channel_does_not_starve_a_quiet_one,
            channels::runner_takes_only_its_channel_names,
            channels::paused_channel_waits_until_resumed,
            channels::urgent_job_overtakes_a_backlog,
            cancel::cancelled_jobs_stop_and_stay_cancelled,
            periodic::periodic_jobs_run_once_per_tick_across_runners,
            periodic::a_rolling_deploy_keeps_the_newest_schedule,
            limits::limits_hold_across_runners,
            activity::runners_report_their_work,
            runners::idle_runner_wakes_on_spawn,
            runners::concurrent_spawns_all_wake_an_idle_runner,
            runners::competing_runners_run_each_job_once,
            runners::stop_lets_running_jobs_finish,
            registry::registry_runs_jobs_with_their_context,
            registry::job_errors_reach_the_error_handler,
            registry::timed_out_jobs_are_dropped,
            registry::undecodable_payload_gives_a_typed_error,
            registry::unknown_jobs_are_kept_for_a_runner_that_knows_them,
            registry::missing_context_is_refused_at_start,
            bad_input::unstorable_values_are_refused_with_typed_errors,
            bad_input::payloads_past_the_limit_are_refused,
            bad_input::committing_unknown_ids_names_them,
            bad_input::huge_payloads_and_odd_channel_names_round_trip,
            migrations::concurrent_migrations_apply_once,
            migrations::newer_schema_is_refused,
            migrations::upgrades_a_version_1_database_with_its_jobs,
            migrations::upgrades_a_version_2_database_with_its_jobs,
            migrations::upgrades_a_version_3_database_with_its_jobs,
            migrations::upgrades_a_version_4_database_with_its_jobs,
            migrations::upgrades_a_version_5_database_with_its_jobs,
            migrations::upgrades_a_version_6_database_with_its_jobs,
            migrations::upgrades_a_version_8_database_with_its_jobs,
            migrations::upgrades_a_version_9_database_with_its_jobs,
            migrations::upgrades_a_version_10_database_with_its_jobs,
            migrations::upgrades_a_version_11_database_with_its_jobs,
            migrations::upgrades_a_version_12_database_with_its_jobs,
            migrations::upgrades_a_version_13_database_with_its_jobs,
            migrations::upgrades_a_version_14_database_with_its_jobs,
            migrations::upgrades_a_version_15_database_with_its_jobs,
            migrations::upgrades_a_version_16_database_with_its_jobs,
            migrations::upgrades_a_version_17_database_with_its_jobs,
            migrations::upgrades_a_version_18_database_with_its_jobs,
            migrations::upgrades_a_version_19_database_with_its_jobs,
            migrations::upgrades_a_version_20_database_with_its_jobs,
            storage::vacuum_rebuilds_bloated_indexes,
            admin::failed_jobs_are_inspected_and_retried,
            admin::kept_completed_jobs_are_inspected_and_pruned,
            admin::deleting_a_running_job_fences_its_runner,
            liveness::blocked_ordered_channels_do_not_starve_the_others,
            liveness::stopping_strands_no_job,
            liveness::an_open_transaction_holds_up_no_other_lease,
            liveness::a_rolled_back_completion_runs_again_at_once,
            liveness::ordered_spawns_in_concurrent_transactions_run_one_at_a_time,
            liveness::repeatable_read_spawns_are_settled_by_runners,
            liveness::a_fleet_started_and_stopped_at_random_runs_each_job_once_in_order,
        );
    };
}

all_cases!(sqlx_tokio: crate::drivers::SqlxDriver, Tokio, #[tokio::test(flavor = "multi_thread", worker_threads = 2)]);
all_cases!(sqlx_async_std: crate::drivers::SqlxDriver, AsyncStd, #[async_std::test]);
all_cases!(tokio_postgres_tokio: crate::drivers::TokioPostgresDriver, Tokio, #[tokio::test(flavor = "multi_thread", worker_threads = 2)]);
all_cases!(tokio_postgres_async_std: crate::drivers::TokioPostgresDriver, AsyncStd, #[async_std::test]);
all_cases!(sqlx_pgbouncer: crate::drivers::SqlxPgBouncerDriver, Tokio, #[tokio::test(flavor = "multi_thread", worker_threads = 2)]);
all_cases!(tokio_postgres_pgbouncer: crate::drivers::TokioPostgresPgBouncerDriver, Tokio, #[tokio::test(flavor = "multi_thread", worker_threads = 2)]);
