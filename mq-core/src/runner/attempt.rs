//! One attempt of one job, from its claim until nothing more is written
//! for it: its state, and every transition between states.
//!
//! ```text
//!              dispatch              complete()            batch done
//!   Claimed ─────────────► Running ─────────────► Completing ──────────► Finished(Completed)
//!      │                    │  │  ▲                   │ batch lost
//!      │ runner stopping    │  │  └───────────────────┘ batch error   ─► Finished(LeaseLost)
//!      ▼                    │  │ complete_with_transaction
//!   Settling ◄──────────────┘  ▼
//!   (release, fail,     CompletedInTransaction ── user code done ──► Settling (check)
//!    check) ── written ──► Finished(Retrying | Failed | Released | Completed | LeaseLost | Unrecorded)
//! ```
//!
//! Keep-alive renews the leases of attempts in `Running`, `Completing` and
//! `Settling`: their rows are still theirs until the outcome is written.
//! A job completed in the caller's transaction is not renewed, because
//! that transaction holds its row; when the job's code returns, the
//! outcome task checks whether the transaction committed (the row is gone)
//! or rolled back (the row is still running under this lease: the attempt
//! is recorded as failed at once, instead of after its lease lapses).
//!
//! An attempt leaves the runner (is deregistered) once it is `Finished`
//! and the user's code has let go of it (the `CurrentJob` was dropped, or
//! the registry's task returned).

use std::sync::{Arc, Mutex, MutexGuard};

use futures::channel::oneshot;
use futures::future::{Either, select};
use std::time::{Duration, Instant};

use super::cancel::CancelSignal;
use super::report::{JobOutcome, JobReport};
use super::shared::{LoopEvent, Outcome, RunnerShared};
use crate::backend::{ChannelKey, ClaimTarget, JobLease};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;

/// Where an attempt is in its life. See the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AttemptState {
    /// Claimed, not yet handed to user code.
    Claimed,
    /// In user code: takes a concurrency slot; its lease is kept alive.
    Running,
    /// `complete()` was called and the completion waits for its batch. Its
    /// slot is free already; its lease is still kept alive.
    Completing,
    /// `complete_with_transaction` or `snooze_with_transaction` has its
    /// statement in flight, in the caller's transaction: its result
    /// decides what comes next. Not kept alive: that transaction holds the
    /// row, or (an owned one) may have committed it already, and a renewal
    /// that found the row gone would report a lost lease that is not one.
    WritingInTransaction,
    /// Completed in the caller's transaction, which may yet commit or roll
    /// back. Not kept alive: that transaction holds the row.
    CompletedInTransaction,
    /// How the attempt ended (a failure, a release, or the check of a
    /// completion in a transaction) is on its way to the database.
    Settling,
    /// Nothing more will be written for this attempt.
    Finished(JobOutcome),
}

impl AttemptState {
    /// Whether the attempt takes one of the runner's concurrency slots.
    pub fn takes_slot(self) -> bool {
        matches!(
            self,
            Self::Claimed | Self::Running | Self::WritingInTransaction
        )
    }

    /// Whether the job's code holds the attempt and may still record its
    /// end.
    fn in_user_code(self) -> bool {
        matches!(
            self,
            Self::Claimed | Self::Running | Self::WritingInTransaction
        )
    }

    /// Whether the keep-alive task should renew the attempt's lease.
    pub fn kept_alive(self) -> bool {
        matches!(self, Self::Running | Self::Completing | Self::Settling)
    }
}

/// How an attempt ended before its job's code let go of it: after this,
/// nothing the job records counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EndedEarly {
    /// Failed for running past its timeout.
    TimedOut,
    /// Snoozed by the job: given back, to run again later.
    Snoozed,
    /// Snoozed in the caller's transaction, which may yet commit or roll
    /// back.
    SnoozedInTransaction,
}

struct Inner {
    state: AttemptState,
    ended_early: Option<EndedEarly>,
    /// The user's code has let go of the attempt.
    released_by_user: bool,
}

/// One attempt: what was claimed, and its state.
pub(crate) struct Attempt {
    pub shared: Arc<RunnerShared>,
    /// When the job was claimed.
    pub started: Instant,
    /// The `mq.job` span the attempt runs in.
    pub span: tracing::Span,
    pub lease: JobLease,
    /// The attempt number (1 for the first run).
    pub number: i32,
    pub name: String,
    pub channel_name: String,
    pub channel_args: String,
    pub ordered: bool,
    /// How long to wait before the next attempt if this one fails.
    pub retry: RetryPolicy,
    /// The job's place in the ready queue when it was claimed.
    pub ready_seq: i64,
    /// How long the attempt may run.
    pub timeout: Option<Duration>,
    /// Fired when the job should stop: cancelled, timed out, or its lease
    /// lost.
    pub cancel: CancelSignal,
    /// Fired when the attempt ran past its timeout: a registry job's future
    /// is dropped then.
    pub timed_out: CancelSignal,
    inner: Mutex<Inner>,
}

/// How user code ended its hold on an attempt without completing it.
pub(crate) enum Ending {
    /// The job failed with this error (it is retried while attempts remain).
    Failed(String),
    /// The job is given back without counting the attempt.
    Released(Duration),
}

/// The error recorded for an attempt that ran past its timeout.
pub(crate) fn timeout_error(timeout: Duration) -> String {
    format!("the job timed out after {timeout:?}")
}

fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    // Transitions below never panic halfway, so a poisoned lock still
    // guards a valid state.
    inner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Attempt {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        shared: Arc<RunnerShared>,
        span: tracing::Span,
        lease: JobLease,
        number: i32,
        name: String,
        channel_name: String,
        channel_args: String,
        ordered: bool,
        retry: RetryPolicy,
        ready_seq: i64,
    ) -> Self {
        Self {
            shared,
            started: Instant::now(),
            span,
            lease,
            number,
            name,
            channel_name,
            channel_args,
            ordered,
            retry,
            ready_seq,
            timeout: None,
            cancel: CancelSignal::new(),
            timed_out: CancelSignal::new(),
            inner: Mutex::new(Inner {
                state: AttemptState::Claimed,
                ended_early: None,
                released_by_user: false,
            }),
        }
    }

    pub fn state(&self) -> AttemptState {
        lock(&self.inner).state
    }

    /// Every transition goes through here, so that the runner's count of
    /// taken slots follows the states.
    fn set_state(&self, inner: &mut Inner, state: AttemptState) {
        match (inner.state.takes_slot(), state.takes_slot()) {
            (true, false) => self.shared.slot_freed(),
            (false, true) => self.shared.slot_taken(),
            _ => {}
        }
        inner.state = state;
    }

    /// Claimed → Running: handed to user code. With a timeout, a timer
    /// starts; it ends early once the attempt is cancelled or gone, so that
    /// a long timeout keeps nothing alive after the job ends.
    pub fn start(self: &Arc<Self>) {
        let mut inner = lock(&self.inner);
        if inner.state != AttemptState::Claimed {
            return;
        }
        self.set_state(&mut inner, AttemptState::Running);
        drop(inner);
        if let Some(timeout) = self.timeout {
            let attempt = Arc::downgrade(self);
            let ended = Box::pin(self.cancel.fired_or_dropped());
            let expired = self.shared.spawner.sleep(timeout);
            self.shared.spawner.spawn(Box::pin(async move {
                if let Either::Left(_) = select(expired, ended).await
                    && let Some(attempt) = attempt.upgrade()
                {
                    attempt.time_out(timeout);
                }
            }));
        }
    }

    /// The attempt ran past its timeout: records the attempt as failed at
    /// once, unless it ended already, and tells the job to stop. The state
    /// changes before the job is told, so that a job woken by the signal
    /// finds its completion refused rather than racing the failure.
    pub fn time_out(self: &Arc<Self>, timeout: Duration) {
        let mut inner = lock(&self.inner);
        let running = matches!(inner.state, AttemptState::Claimed | AttemptState::Running);
        if running {
            inner.ended_early = Some(EndedEarly::TimedOut);
            self.set_state(&mut inner, AttemptState::Settling);
        }
        drop(inner);
        self.timed_out.fire();
        self.cancel.fire();
        if running {
            self.shared.send(Outcome::Fail {
                attempt: self.clone(),
                error: timeout_error(timeout),
            });
        }
    }

    pub fn lease_lost_error(&self) -> Error {
        Error::LeaseLost {
            id: self.lease.id,
            attempt: self.number,
        }
    }

    /// Running → Completing, before a completion is queued. `Ok(false)`
    /// when the job is completed already (nothing to do).
    pub fn begin_completing(&self) -> Result<bool> {
        let mut inner = lock(&self.inner);
        match inner.state {
            AttemptState::Running | AttemptState::Claimed => {
                // Its slot is free: the claim loop may claim again.
                self.set_state(&mut inner, AttemptState::Completing);
                Ok(true)
            }
            AttemptState::Finished(JobOutcome::Completed)
            | AttemptState::CompletedInTransaction => Ok(false),
            AttemptState::Finished(JobOutcome::LeaseLost) => Err(self.lease_lost_error()),
            _ if inner.ended_early.is_some() => Err(self.ended_early_error(&inner)),
            AttemptState::Completing | AttemptState::WritingInTransaction => Err(Error::Busy {
                id: self.lease.id,
                reason: "a completion of this attempt is already in flight",
            }),
            AttemptState::Settling | AttemptState::Finished(_) => Err(Error::RunnerStopped),
        }
    }

    /// Completing → Running: the completion failed and the job may try
    /// again (or fail).
    pub fn completion_failed(&self) {
        let mut inner = lock(&self.inner);
        if inner.state == AttemptState::Completing {
            self.set_state(&mut inner, AttemptState::Running);
        }
    }

    /// Whether user code may still act for the job: `Err` once the lease is
    /// known lost.
    pub fn check_held(&self) -> Result<()> {
        let inner = lock(&self.inner);
        if inner.ended_early.is_some() {
            Err(self.ended_early_error(&inner))
        } else if inner.state == AttemptState::Finished(JobOutcome::LeaseLost) {
            Err(self.lease_lost_error())
        } else {
            Ok(())
        }
    }

    /// The error for a call made after the attempt ended early.
    fn ended_early_error(&self, inner: &Inner) -> Error {
        match inner.ended_early {
            Some(EndedEarly::Snoozed | EndedEarly::SnoozedInTransaction) => Error::AttemptEnded {
                id: self.lease.id,
                how: "was snoozed",
            },
            _ => self.lease_lost_error(),
        }
    }

    /// Running → Settling: the job gives itself back to run after `delay`,
    /// its attempt not counted. Returns what hears whether that was
    /// recorded.
    pub fn snooze(self: &Arc<Self>, delay: Duration) -> Result<oneshot::Receiver<Result<()>>> {
        let mut inner = lock(&self.inner);
        if inner.ended_early.is_some() {
            return Err(self.ended_early_error(&inner));
        }
        match inner.state {
            AttemptState::Claimed | AttemptState::Running => {}
            AttemptState::Finished(JobOutcome::LeaseLost) => return Err(self.lease_lost_error()),
            _ => {
                return Err(Error::AttemptEnded {
                    id: self.lease.id,
                    how: "was completed",
                });
            }
        }
        inner.ended_early = Some(EndedEarly::Snoozed);
        self.set_state(&mut inner, AttemptState::Settling);
        drop(inner);
        let (ack, acked) = oneshot::channel();
        self.shared.send(Outcome::Release {
            attempt: self.clone(),
            delay,
            ack: Some(ack),
        });
        Ok(acked)
    }

    /// Running → CompletedInTransaction, for a snooze the caller's
    /// transaction holds: checked, as a completion is, once the job's code
    /// returns.
    pub fn snoozed_in_transaction(&self) {
        let mut inner = lock(&self.inner);
        if inner.state.in_user_code() {
            inner.ended_early = Some(EndedEarly::SnoozedInTransaction);
            self.set_state(&mut inner, AttemptState::CompletedInTransaction);
        }
    }

    /// Whether the attempt ended in a snooze held by the caller's
    /// transaction (its check then finds a release, not a completion).
    pub fn is_snoozed_in_transaction(&self) -> bool {
        lock(&self.inner).ended_early == Some(EndedEarly::SnoozedInTransaction)
    }

    /// Running → WritingInTransaction: a completion or snooze in the
    /// caller's transaction is on its way. Its result moves the attempt on
    /// ([`completed_in_transaction`](Self::completed_in_transaction),
    /// [`snoozed_in_transaction`](Self::snoozed_in_transaction)) or back
    /// ([`transaction_write_failed`](Self::transaction_write_failed)).
    pub fn transaction_write_started(&self) {
        let mut inner = lock(&self.inner);
        if matches!(inner.state, AttemptState::Running | AttemptState::Claimed) {
            self.set_state(&mut inner, AttemptState::WritingInTransaction);
        }
    }

    /// WritingInTransaction → Running: the write did not take (an error,
    /// or the lease was not current), and the attempt is where it was.
    pub fn transaction_write_failed(&self) {
        let mut inner = lock(&self.inner);
        if inner.state == AttemptState::WritingInTransaction {
            self.set_state(&mut inner, AttemptState::Running);
        }
    }

    /// Running → CompletedInTransaction, once the caller's transaction has
    /// the completion.
    pub fn completed_in_transaction(&self) {
        let mut inner = lock(&self.inner);
        if inner.state.in_user_code() {
            self.set_state(&mut inner, AttemptState::CompletedInTransaction);
        }
    }

    /// Whether the job was completed (durably, or in a caller's
    /// transaction).
    pub fn is_completed(&self) -> bool {
        let inner = lock(&self.inner);
        inner.ended_early.is_none()
            && matches!(
                inner.state,
                AttemptState::Finished(JobOutcome::Completed)
                    | AttemptState::CompletedInTransaction
            )
    }

    /// The lease was found lost while user code holds the job (keep-alive,
    /// checkpoint): nothing more can be written for this attempt. Returns
    /// the error to give the job. A completion in flight decides for itself.
    pub fn lose_lease(self: &Arc<Self>) -> Error {
        self.cancel.fire();
        let mut inner = lock(&self.inner);
        if matches!(inner.state, AttemptState::Claimed | AttemptState::Running) {
            self.set_state(&mut inner, AttemptState::Finished(JobOutcome::LeaseLost));
            let deregister = inner.released_by_user;
            drop(inner);
            self.report(JobOutcome::LeaseLost, None);
            if deregister {
                self.shared.deregister(self);
            }
        }
        self.lease_lost_error()
    }

    /// User code has let go of the attempt: records how it ended unless
    /// the job completed or its lease was lost. Only the first call counts.
    pub fn end(self: &Arc<Self>, ending: impl FnOnce() -> Ending) {
        let mut inner = lock(&self.inner);
        if inner.released_by_user {
            return;
        }
        inner.released_by_user = true;
        let outcome = match inner.state {
            AttemptState::Claimed | AttemptState::Running => match ending() {
                Ending::Failed(error) => Outcome::Fail {
                    attempt: self.clone(),
                    error,
                },
                Ending::Released(delay) => Outcome::Release {
                    attempt: self.clone(),
                    delay,
                    ack: None,
                },
            },
            // A write whose future was dropped in flight: whether it took
            // is found out as for one that returned.
            AttemptState::CompletedInTransaction | AttemptState::WritingInTransaction => {
                Outcome::CheckCompletion {
                    attempt: self.clone(),
                }
            }
            // The outcome task finishes these and then deregisters them.
            AttemptState::Completing | AttemptState::Settling => return,
            AttemptState::Finished(_) => {
                drop(inner);
                self.shared.deregister(self);
                return;
            }
        };
        self.set_state(&mut inner, AttemptState::Settling);
        drop(inner);
        self.shared.send(outcome);
    }

    /// Settling or Completing → Finished: the outcome is written (or given
    /// up on). Reports it, and deregisters the attempt once user code has
    /// let go of it.
    pub fn finish(self: &Arc<Self>, outcome: JobOutcome, error: Option<&str>) {
        let mut inner = lock(&self.inner);
        if matches!(inner.state, AttemptState::Finished(_)) {
            return;
        }
        self.set_state(&mut inner, AttemptState::Finished(outcome));
        let deregister = inner.released_by_user;
        drop(inner);
        self.report(outcome, error);
        if outcome == JobOutcome::Completed && self.ordered {
            // Its successor on the channel is ready now, and took its place
            // in the ready queue after this job's: among the jobs of this
            // priority, if it shares it, as the jobs of an ordered channel
            // mostly do. One of another priority is found by a claim over
            // all channels.
            self.shared.event(LoopEvent::Unblocked(ClaimTarget {
                channel: ChannelKey {
                    name: self.channel_name.clone(),
                    args: self.channel_args.clone(),
                },
                priority: crate::ready_queue::priority_of(self.ready_seq),
                from_ready_seq: self.ready_seq.saturating_add(1),
            }));
        }
        if deregister {
            self.shared.deregister(self);
        }
    }

    /// Reports how the attempt ended: an event in the job's span, and the
    /// metrics hook.
    fn report(&self, outcome: JobOutcome, error: Option<&str>) {
        let _entered = self.span.enter();
        match (outcome, error) {
            (JobOutcome::Failed, error) => tracing::warn!(%outcome, error, "job failed for good"),
            (JobOutcome::Retrying, error) => {
                tracing::info!(%outcome, error, retry_in = ?self.retry_delay(), "job attempt failed")
            }
            (JobOutcome::LeaseLost, _) => {
                tracing::warn!(%outcome, "job was taken over by another runner")
            }
            (JobOutcome::Unrecorded, error) => {
                tracing::warn!(%outcome, error, "the job's outcome could not be recorded; it runs again when its lease lapses")
            }
            (outcome, _) => tracing::debug!(%outcome, "job finished"),
        }
        self.shared.tally(&self.channel_name, outcome);
        if let Some(metrics) = &self.shared.metrics {
            metrics.job_finished(&JobReport {
                id: self.lease.id,
                name: &self.name,
                channel_name: &self.channel_name,
                attempt: self.number,
                outcome,
                run_time: self.started.elapsed(),
            });
        }
    }

    /// The wait before the next attempt if this one fails.
    pub fn retry_delay(&self) -> Duration {
        self.retry.delay(self.lease.id, self.number)
    }
}
