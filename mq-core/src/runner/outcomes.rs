//! The outcome task: records how attempts ended.
//!
//! Completions are batched: while one `job_complete` statement is in
//! flight, the completions that arrive queue up and go out together in the
//! next one, so a busy runner completes hundreds of jobs per round trip and
//! an idle one adds no delay. Each job's `complete()` returns only once its
//! own batch is durable.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::{mpsc, oneshot};

use super::report::JobOutcome;
use super::shared::{Attempt, LoopEvent, Outcome, RunnerShared};
use crate::backend::{
    JobCompleteParams, JobFailOutcome, JobFailParams, JobLease, JobReleaseParams,
};
use crate::error::{Error, Result};

/// How many times a batch of completions is tried before its jobs are told
/// it failed.
const COMPLETE_TRIES: u64 = 3;

/// One backend error shared by every waiter of a failed batch.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct SharedError(Arc<Error>);

fn share(error: Error) -> impl Fn() -> Error {
    let transient = error.is_transient();
    let shared = Arc::new(error);
    move || Error::Backend {
        operation: "job_complete",
        transient,
        source: Box::new(SharedError(shared.clone())),
    }
}

pub(crate) async fn run(shared: Arc<RunnerShared>, mut outcomes: mpsc::UnboundedReceiver<Outcome>) {
    let max_batch = shared.config.completion_batch.max(1);
    let mut batch = Vec::new();
    'outer: while let Some(first) = outcomes.next().await {
        batch.push(first);
        while batch.len() < max_batch {
            match outcomes.try_recv() {
                Ok(outcome) => batch.push(outcome),
                Err(_) => break,
            }
        }
        let mut completions = Vec::new();
        let mut shutdown = false;
        for outcome in batch.drain(..) {
            match outcome {
                Outcome::Complete { attempt, ack } => completions.push((attempt, ack)),
                Outcome::Fail { attempt, error } => {
                    let result = shared
                        .backend
                        .job_fail(JobFailParams {
                            lease: attempt.lease,
                            retry_delay: attempt.retry_delay(),
                            error: &error,
                            now: None,
                        })
                        .await;
                    match result {
                        Ok(JobFailOutcome::Failed) => {
                            attempt.report(JobOutcome::Failed, Some(&error))
                        }
                        Ok(JobFailOutcome::Retrying) => {
                            attempt.report(JobOutcome::Retrying, Some(&error))
                        }
                        Ok(JobFailOutcome::LeaseLost) => {
                            attempt.report(JobOutcome::LeaseLost, None)
                        }
                        // The lease will lapse and the job be retried.
                        Err(e) => {
                            tracing::warn!(parent: &attempt.span, error = %e, "job_fail failed")
                        }
                    }
                    shared.deregister(attempt.lease.id);
                }
                Outcome::Release { attempt, delay } => {
                    let result = shared
                        .backend
                        .job_release(JobReleaseParams {
                            lease: attempt.lease,
                            delay,
                            now: None,
                        })
                        .await;
                    match result {
                        Ok(true) => attempt.report(JobOutcome::Released, None),
                        Ok(false) => attempt.report(JobOutcome::LeaseLost, None),
                        Err(e) => {
                            tracing::warn!(parent: &attempt.span, error = %e, "job_release failed")
                        }
                    }
                    shared.deregister(attempt.lease.id);
                }
                Outcome::Shutdown => shutdown = true,
            }
        }
        if !completions.is_empty() {
            complete(&shared, completions).await;
        }
        if shutdown && shared.is_stopping() && shared.running_count() == 0 {
            break 'outer;
        }
    }
}

async fn complete(
    shared: &RunnerShared,
    completions: Vec<(Arc<Attempt>, oneshot::Sender<Result<bool>>)>,
) {
    let leases: Vec<JobLease> = completions
        .iter()
        .map(|(attempt, _)| attempt.lease)
        .collect();
    let any_ordered = completions.iter().any(|(attempt, _)| attempt.ordered);
    let mut tries = 0;
    let result = loop {
        let result = shared
            .backend
            .job_complete(JobCompleteParams {
                leases: &leases,
                keep_completed: shared.config.keep_completed,
                now: None,
            })
            .await;
        tries += 1;
        match result {
            // A transient failure (a lost connection, a serialization
            // failure) is worth another go before every job of the batch
            // hears of it: the statement is idempotent.
            Err(error) if error.is_transient() && tries < COMPLETE_TRIES => {
                tracing::debug!(%error, tries, "job_complete failed; trying again");
                shared
                    .spawner
                    .sleep(Duration::from_millis(20 * tries))
                    .await;
            }
            result => break result,
        }
    };
    match result {
        Ok(done) => {
            let done: HashSet<JobLease> = done.into_iter().collect();
            for (attempt, ack) in completions {
                let held = done.contains(&attempt.lease);
                attempt.report(
                    if held {
                        JobOutcome::Completed
                    } else {
                        JobOutcome::LeaseLost
                    },
                    None,
                );
                let _ = ack.send(Ok(held));
            }
            if any_ordered {
                let _ = shared.events.unbounded_send(LoopEvent::MoreWork);
            }
        }
        Err(error) => {
            tracing::warn!(%error, jobs = leases.len(), "job_complete failed");
            let error = share(error);
            for (_, ack) in completions {
                let _ = ack.send(Err(error()));
            }
        }
    }
}
