//! The outcome task: writes how attempts ended, in batches.
//!
//! While one batch is being written, the outcomes that arrive queue up and
//! go out together in the next, so a busy runner records hundreds of
//! completions, failures or releases per statement and an idle one adds no
//! delay. Each job's `complete()` returns once its own batch is durable.
//!
//! A row another transaction holds is skipped by the batch statements
//! ([`LeaseOutcome::Busy`]) rather than waited for, so one open
//! transaction cannot stall the writes of every other job: its outcome is
//! tried again a little later, for as long as the lease would last.
//!
//! The task ends once the claim loop has ended and every attempt has been
//! deregistered, so an attempt claimed as the runner stopped still has its
//! outcome written.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, StreamExt};

use super::attempt::Attempt;
use super::report::JobOutcome;
use super::shared::{LoopEvent, Outcome, RunnerShared};
use crate::backend::{
    JobCompleteParams, JobFailOutcome, JobFailParams, JobFailure, JobLease, JobReleaseParams,
    LeaseOutcome,
};
use crate::error::{Error, Result};

/// How many times a batch statement is tried when it fails transiently
/// before its attempts are given up on.
const TRIES: u64 = 3;

/// The error recorded when a job completed in a transaction that then
/// rolled back.
pub(crate) const ROLLED_BACK: &str =
    "the transaction that completed the job rolled back; the completion did not happen";

/// One backend error shared by every waiter of a failed batch.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct SharedError(Arc<Error>);

fn share(operation: &'static str, error: Error) -> impl Fn() -> Error {
    let transient = error.is_transient();
    let shared = Arc::new(error);
    move || Error::Backend {
        operation,
        transient,
        source: Box::new(SharedError(shared.clone())),
    }
}

/// A failure to write, or the check of a completion made in a transaction
/// (written as a failure that only lands if the transaction rolled back).
enum Failure {
    Job(String),
    Check,
}

impl Failure {
    fn text(&self) -> &str {
        match self {
            Self::Job(error) => error,
            Self::Check => ROLLED_BACK,
        }
    }
}

/// The outcomes of one batch, by kind.
#[derive(Default)]
struct Batch {
    completions: Vec<(Arc<Attempt>, oneshot::Sender<Result<()>>)>,
    failures: Vec<(Arc<Attempt>, Failure)>,
    releases: BTreeMap<Duration, Vec<Released>>,
}

impl Batch {
    /// The channel names of the batch's jobs, each once.
    fn channel_names(&self) -> Vec<String> {
        let attempts = self
            .completions
            .iter()
            .map(|(attempt, _)| attempt)
            .chain(self.failures.iter().map(|(attempt, _)| attempt))
            .chain(self.releases.values().flatten().map(|(attempt, _)| attempt));
        let names: std::collections::BTreeSet<&str> = attempts
            .map(|attempt| attempt.channel_name.as_str())
            .collect();
        names.into_iter().map(str::to_owned).collect()
    }

    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Complete { attempt, ack } => self.completions.push((attempt, ack)),
            Outcome::Fail { attempt, error } => self.failures.push((attempt, Failure::Job(error))),
            Outcome::CheckCompletion { attempt } => self.failures.push((attempt, Failure::Check)),
            Outcome::Release {
                attempt,
                delay,
                ack,
            } => self.releases.entry(delay).or_default().push((attempt, ack)),
            Outcome::Wake => {}
        }
    }
}

/// An attempt to give back, and who waits to hear that it was (a snooze).
type Released = (Arc<Attempt>, Option<oneshot::Sender<Result<()>>>);

/// The outcome task's state between batches.
struct Writer {
    shared: Arc<RunnerShared>,
    /// When each lease was first found busy, for giving up after a lease's
    /// length.
    busy_since: HashMap<JobLease, Instant>,
}

pub(crate) async fn run(shared: Arc<RunnerShared>, mut outcomes: mpsc::UnboundedReceiver<Outcome>) {
    let max_batch = shared.config.completion_batch.max(1);
    let mut writer = Writer {
        shared,
        busy_since: HashMap::new(),
    };
    while !writer.shared.is_done() {
        let Some(first) = outcomes.next().await else {
            break;
        };
        let mut batch = Batch::default();
        batch.add(first);
        for _ in 1..max_batch {
            match outcomes.try_recv() {
                Ok(outcome) => batch.add(outcome),
                Err(_) => break,
            }
        }
        writer.write(batch).await;
    }
}

impl Writer {
    async fn write(&mut self, batch: Batch) {
        let channels = batch.channel_names();
        self.write_outcomes(batch).await;
        // After the writes: a limited claim made now counts the slots
        // these jobs held as free.
        self.shared.event(LoopEvent::Settled(channels));
    }

    async fn write_outcomes(&mut self, batch: Batch) {
        if !batch.completions.is_empty() {
            self.complete(batch.completions).await;
        }
        if !batch.failures.is_empty() {
            self.fail(batch.failures).await;
        }
        for (delay, attempts) in batch.releases {
            self.release(delay, attempts).await;
        }
    }

    /// Runs a batch statement, trying again after a transient failure: the
    /// statements only change rows whose leases are current, so a second
    /// go cannot do anything twice.
    async fn with_tries<T, F: Future<Output = Result<T>>>(
        &self,
        operation: &'static str,
        statement: impl Fn() -> F,
    ) -> Result<T> {
        let mut tries = 0;
        loop {
            tries += 1;
            match statement().await {
                Err(error) if error.is_transient() && tries < TRIES => {
                    tracing::debug!(%error, tries, operation, "batch statement failed; trying again");
                    self.shared
                        .spawner
                        .sleep(Duration::from_millis(20 * tries))
                        .await;
                }
                result => return result,
            }
        }
    }

    /// Forgets that `lease` was busy (it is done with), without hashing it
    /// when nothing is busy at all, the usual case.
    fn not_busy(&mut self, lease: &JobLease) {
        if !self.busy_since.is_empty() {
            self.busy_since.remove(lease);
        }
    }

    /// A lease was found busy: whether to try again (later) or give up
    /// because it has been busy for as long as a lease lasts.
    fn still_trying(&mut self, lease: JobLease) -> bool {
        let since = *self.busy_since.entry(lease).or_insert_with(Instant::now);
        if since.elapsed() < self.shared.config.lease {
            true
        } else {
            self.busy_since.remove(&lease);
            false
        }
    }

    /// Queues an outcome again after a short wait.
    fn again(&self, lease: JobLease, outcome: Outcome) {
        let waited = self
            .busy_since
            .get(&lease)
            .map_or(Duration::ZERO, Instant::elapsed);
        // 5 ms, growing with the time already waited, at most 1 s.
        let delay = (waited / 4).clamp(Duration::from_millis(5), Duration::from_secs(1));
        let shared = self.shared.clone();
        let sleep = shared.spawner.sleep(delay);
        self.shared.spawner.spawn(
            async move {
                sleep.await;
                shared.send(outcome);
            }
            .boxed(),
        );
    }

    async fn complete(&mut self, completions: Vec<(Arc<Attempt>, oneshot::Sender<Result<()>>)>) {
        let leases: Vec<JobLease> = completions.iter().map(|(a, _)| a.lease).collect();
        let keep_completed = self.shared.config.keep_completed;
        let backend = self.shared.backend.clone();
        let result = self
            .with_tries("job_complete", || {
                backend.job_complete(JobCompleteParams {
                    leases: &leases,
                    keep_completed,
                    skip_busy: true,
                    now: None,
                })
            })
            .await;
        match result {
            Ok(outcomes) => {
                let outcomes: HashMap<JobLease, LeaseOutcome> = outcomes.into_iter().collect();
                for (attempt, ack) in completions {
                    match outcomes.get(&attempt.lease) {
                        Some(LeaseOutcome::Done) => {
                            self.not_busy(&attempt.lease);
                            attempt.finish(JobOutcome::Completed, None);
                            let _ = ack.send(Ok(()));
                        }
                        Some(LeaseOutcome::Busy) if self.still_trying(attempt.lease) => {
                            let lease = attempt.lease;
                            self.again(lease, Outcome::Complete { attempt, ack });
                        }
                        Some(LeaseOutcome::Busy) => {
                            attempt.completion_failed();
                            let _ = ack.send(Err(Error::Busy {
                                id: attempt.lease.id,
                                reason: "another transaction holds its row (is the job's own \
                                         transaction still open?)",
                            }));
                        }
                        Some(LeaseOutcome::Lost) | None => {
                            self.not_busy(&attempt.lease);
                            attempt.finish(JobOutcome::LeaseLost, None);
                            let _ = ack.send(Err(attempt.lease_lost_error()));
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, jobs = leases.len(), "job_complete failed");
                let error = share("job_complete", error);
                for (attempt, ack) in completions {
                    attempt.completion_failed();
                    let _ = ack.send(Err(error()));
                }
            }
        }
    }

    async fn fail(&mut self, failures: Vec<(Arc<Attempt>, Failure)>) {
        let rows: Vec<JobFailure<'_>> = failures
            .iter()
            .map(|(attempt, failure)| JobFailure {
                lease: attempt.lease,
                retry_delay: attempt.retry_delay(),
                error: failure.text(),
            })
            .collect();
        let backend = self.shared.backend.clone();
        let result = self
            .with_tries("job_fail", || {
                backend.job_fail(JobFailParams {
                    failures: &rows,
                    now: None,
                })
            })
            .await;
        let outcomes: HashMap<JobLease, JobFailOutcome> = match result {
            Ok(outcomes) => outcomes.into_iter().collect(),
            Err(error) => {
                tracing::warn!(%error, jobs = rows.len(), "job_fail failed");
                let text = error.to_string();
                for (attempt, _) in &failures {
                    attempt.finish(JobOutcome::Unrecorded, Some(&text));
                }
                return;
            }
        };
        drop(rows);
        for (attempt, failure) in failures {
            let outcome = outcomes
                .get(&attempt.lease)
                .copied()
                .unwrap_or(JobFailOutcome::LeaseLost);
            if outcome != JobFailOutcome::Busy {
                self.not_busy(&attempt.lease);
            }
            match (outcome, failure) {
                (JobFailOutcome::Retrying, failure) => {
                    attempt.finish(JobOutcome::Retrying, Some(failure.text()))
                }
                (JobFailOutcome::Failed, failure) => {
                    attempt.finish(JobOutcome::Failed, Some(failure.text()))
                }
                // The transaction committed: the row is gone (or kept
                // completed), so the lease is no longer current.
                (JobFailOutcome::LeaseLost, Failure::Check) => {
                    let outcome = if attempt.is_snoozed_in_transaction() {
                        JobOutcome::Released
                    } else {
                        JobOutcome::Completed
                    };
                    attempt.finish(outcome, None)
                }
                (JobFailOutcome::LeaseLost, Failure::Job(_)) => {
                    attempt.finish(JobOutcome::LeaseLost, None)
                }
                (JobFailOutcome::Busy, failure) if self.still_trying(attempt.lease) => {
                    let lease = attempt.lease;
                    let outcome = match failure {
                        Failure::Job(error) => Outcome::Fail { attempt, error },
                        Failure::Check => Outcome::CheckCompletion { attempt },
                    };
                    self.again(lease, outcome);
                }
                (JobFailOutcome::Busy, failure) => attempt.finish(
                    JobOutcome::Unrecorded,
                    Some(match failure {
                        Failure::Job(_) => {
                            "another transaction held the job's row for a whole lease"
                        }
                        Failure::Check => {
                            "the transaction that completed the job stayed open for a whole lease"
                        }
                    }),
                ),
            }
        }
    }

    async fn release(&mut self, delay: Duration, attempts: Vec<Released>) {
        let leases: Vec<JobLease> = attempts.iter().map(|(a, _)| a.lease).collect();
        let backend = self.shared.backend.clone();
        let result = self
            .with_tries("job_release", || {
                backend.job_release(JobReleaseParams {
                    skip_busy: true,
                    leases: &leases,
                    delay,
                    now: None,
                })
            })
            .await;
        let outcomes: HashMap<JobLease, LeaseOutcome> = match result {
            Ok(outcomes) => outcomes.into_iter().collect(),
            Err(error) => {
                tracing::warn!(%error, jobs = leases.len(), "job_release failed");
                let text = error.to_string();
                for (attempt, ack) in attempts {
                    attempt.finish(JobOutcome::Unrecorded, Some(&text));
                    if let Some(ack) = ack {
                        let _ = ack.send(Err(Error::backend("job_release", true, text.clone())));
                    }
                }
                return;
            }
        };
        for (attempt, ack) in attempts {
            let acked = match outcomes.get(&attempt.lease) {
                Some(LeaseOutcome::Done) => {
                    self.not_busy(&attempt.lease);
                    attempt.finish(JobOutcome::Released, None);
                    Ok(())
                }
                Some(LeaseOutcome::Busy) if self.still_trying(attempt.lease) => {
                    let lease = attempt.lease;
                    self.again(
                        lease,
                        Outcome::Release {
                            attempt,
                            delay,
                            ack,
                        },
                    );
                    continue;
                }
                Some(LeaseOutcome::Busy) => {
                    let reason = "another transaction held the job's row for a whole lease";
                    attempt.finish(JobOutcome::Unrecorded, Some(reason));
                    Err(Error::Busy {
                        id: attempt.lease.id,
                        reason,
                    })
                }
                Some(LeaseOutcome::Lost) | None => {
                    self.not_busy(&attempt.lease);
                    attempt.finish(JobOutcome::LeaseLost, None);
                    Err(attempt.lease_lost_error())
                }
            };
            if let Some(ack) = ack {
                let _ = ack.send(acked);
            }
        }
    }
}
