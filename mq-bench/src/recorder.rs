//! What the benchmark's jobs carry, and what the runners report back: which
//! jobs ran (and how often), when, and in which order.

use std::ops::Range;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// The payload of every benchmark job, serialized as JSON by each system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    /// The job's number, from 0: the index the recorder counts its runs at.
    pub n: u32,
    /// When it was spawned, in microseconds of [`now_us`]'s clock (set by
    /// the producer right before the spawn call).
    pub t: i64,
    /// For ordered jobs: the channel, and the job's position in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ord: Option<(u32, u32)>,
}

impl Payload {
    /// An unordered job, stamped now.
    pub fn new(n: u32) -> Self {
        Payload {
            n,
            t: now_us(),
            ord: None,
        }
    }
}

/// Microseconds since this process's first call: the clock of spawn and
/// start times (monotonic, so latencies never go negative).
pub fn now_us() -> i64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_micros() as i64
}

/// Per-channel state for checking ordered delivery.
#[derive(Debug, Default, Clone, Copy)]
struct ChannelState {
    /// Position of the next job expected to start.
    next: u32,
    /// Whether the previous job's body is still running.
    busy: bool,
}

/// Per job (indexed by its number), in microseconds; -1 until recorded.
#[derive(Debug)]
struct Latencies {
    /// When the job was spawned (its payload's stamp, on [`now_us`]'s
    /// clock): to group jobs by when they were spawned.
    spawn: Vec<AtomicI64>,
    /// From the spawn to the handler starting.
    start: Vec<AtomicI64>,
    /// From the spawn to the completion being recorded.
    done: Vec<AtomicI64>,
}

/// Collects what the runners report. Shared by the job handlers of one run.
#[derive(Debug)]
pub struct Recorder {
    runs: Vec<AtomicU32>,
    started: AtomicUsize,
    completed: AtomicUsize,
    /// Spawn times and latencies per job; filled only when latency is
    /// measured.
    latencies: Option<Latencies>,
    channels: Option<Mutex<Vec<ChannelState>>>,
    problems: Mutex<Vec<String>>,
    /// Completion count and time, every tenth of the expected jobs.
    marks: Mutex<Vec<(usize, Instant)>>,
    mark_step: usize,
    changed: Notify,
}

impl Recorder {
    /// A recorder for jobs numbered `0..jobs`.
    pub fn new(jobs: usize) -> Self {
        Recorder {
            runs: (0..jobs).map(|_| AtomicU32::new(0)).collect(),
            started: AtomicUsize::new(0),
            completed: AtomicUsize::new(0),
            latencies: None,
            channels: None,
            problems: Mutex::new(Vec::new()),
            marks: Mutex::new(Vec::new()),
            mark_step: (jobs / 10).max(1),
            changed: Notify::new(),
        }
    }

    /// Also records each job's spawn time, and its start and completion
    /// latency.
    pub fn with_latencies(mut self) -> Self {
        let n = self.runs.len();
        let column = || (0..n).map(|_| AtomicI64::new(-1)).collect();
        self.latencies = Some(Latencies {
            spawn: column(),
            start: column(),
            done: column(),
        });
        self
    }

    /// Also checks that the jobs of each of `channels` ordered channels
    /// start in order, one at a time.
    pub fn with_ordered_channels(mut self, channels: u32) -> Self {
        self.channels = Some(Mutex::new(vec![ChannelState::default(); channels as usize]));
        self
    }

    fn problem(&self, text: String) {
        let mut problems = self.problems.lock().unwrap();
        if problems.len() < 20 {
            problems.push(text);
        }
    }

    /// A job's handler was called.
    pub fn started(&self, payload: &Payload) {
        let now = now_us();
        let Some(runs) = self.runs.get(payload.n as usize) else {
            self.problem(format!("job {} is not one of this run's", payload.n));
            return;
        };
        runs.fetch_add(1, Ordering::SeqCst);
        if let Some(latencies) = &self.latencies {
            let n = payload.n as usize;
            latencies.spawn[n].store(payload.t, Ordering::Relaxed);
            latencies.start[n].store(now - payload.t, Ordering::Relaxed);
        }
        if let (Some(channels), Some((channel, position))) = (&self.channels, payload.ord) {
            let mut channels = channels.lock().unwrap();
            match channels.get_mut(channel as usize) {
                Some(state) => {
                    if state.busy || state.next != position {
                        self.problem(format!(
                            "ordered channel {channel}: job {position} started while expecting job {}{}",
                            state.next,
                            if state.busy { " (previous still running)" } else { "" }
                        ));
                    }
                    state.next = position + 1;
                    state.busy = true;
                }
                None => self.problem(format!("unknown ordered channel {channel}")),
            }
        }
        self.started.fetch_add(1, Ordering::SeqCst);
    }

    /// A job's body is done (its completion is about to be recorded): the
    /// next job of its ordered channel may start from now on.
    pub fn body_done(&self, payload: &Payload) {
        if let (Some(channels), Some((channel, _))) = (&self.channels, payload.ord)
            && let Some(state) = channels.lock().unwrap().get_mut(channel as usize)
        {
            state.busy = false;
        }
    }

    /// A job's completion is durable.
    pub fn completed(&self, payload: &Payload) {
        let now = now_us();
        if let Some(latencies) = &self.latencies
            && let Some(slot) = latencies.done.get(payload.n as usize)
        {
            slot.store(now - payload.t, Ordering::Relaxed);
        }
        let count = self.completed.fetch_add(1, Ordering::SeqCst) + 1;
        if count.is_multiple_of(self.mark_step) {
            self.marks.lock().unwrap().push((count, Instant::now()));
        }
        self.changed.notify_waiters();
    }

    /// Something went wrong in a handler (a failed completion, a payload
    /// that did not decode): reported at the end of the run.
    pub fn error(&self, what: impl std::fmt::Display) {
        self.problem(format!("{what}"));
        self.changed.notify_waiters();
    }

    /// Jobs whose handler was called so far.
    pub fn started_count(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    /// Jobs whose completion was recorded so far.
    pub fn completed_count(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
    }

    /// Waits until `target` completions are recorded. Fails if a handler
    /// reported a problem, or if no completion arrives for `stall`.
    pub async fn wait_completed(&self, target: usize, stall: Duration) -> Result<()> {
        let mut last = self.completed_count();
        let mut last_change = Instant::now();
        loop {
            let notified = self.changed.notified();
            let now = self.completed_count();
            if let Some(problem) = self.problems.lock().unwrap().first() {
                bail!("{problem}");
            }
            if now >= target {
                return Ok(());
            }
            if now != last {
                last = now;
                last_change = Instant::now();
            } else if last_change.elapsed() > stall {
                bail!(
                    "stalled: {now} of {target} jobs completed ({} started), none for {stall:?}",
                    self.started_count()
                );
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
        }
    }

    /// Waits until every job numbered in `jobs` has started, or fails once
    /// `stall` passes without one of them starting.
    pub async fn wait_started_range(&self, jobs: Range<usize>, stall: Duration) -> Result<()> {
        let waiting = || {
            self.runs[jobs.clone()]
                .iter()
                .filter(|runs| runs.load(Ordering::SeqCst) == 0)
                .count()
        };
        let mut last = waiting();
        let mut last_change = Instant::now();
        loop {
            let notified = self.changed.notified();
            if let Some(problem) = self.problems.lock().unwrap().first() {
                bail!("{problem}");
            }
            let now = waiting();
            if now == 0 {
                return Ok(());
            }
            if now != last {
                last = now;
                last_change = Instant::now();
            } else if last_change.elapsed() > stall {
                bail!("stalled: {now} of jobs {jobs:?} not started, none for {stall:?}");
            }
            let _ = tokio::time::timeout(Duration::from_millis(10), notified).await;
        }
    }

    /// Checks that every job ran exactly once (or, with `partial`, at most
    /// once) and that no handler reported a problem.
    pub fn check(&self, partial: bool) -> Result<()> {
        self.check_counts(self.runs.len(), partial)
    }

    /// Checks that jobs `0..spawned` ran exactly once and no other job ran,
    /// and that no handler reported a problem: for runs that spawn for a
    /// while rather than a set number of jobs, with a recorder sized for
    /// the most they could spawn.
    pub fn check_first(&self, spawned: usize) -> Result<()> {
        if spawned > self.runs.len() {
            bail!(
                "{spawned} jobs spawned, but the recorder counts only {}",
                self.runs.len()
            );
        }
        self.check_counts(spawned, false)
    }

    /// Jobs `0..expected` must run once (at most once with `partial`), the
    /// rest never.
    fn check_counts(&self, expected: usize, partial: bool) -> Result<()> {
        let problems = self.problems.lock().unwrap();
        if !problems.is_empty() {
            bail!("{}", problems.join("; "));
        }
        let mut lost = Vec::new();
        let mut twice = Vec::new();
        let mut unexpected = Vec::new();
        for (n, runs) in self.runs.iter().enumerate() {
            match runs.load(Ordering::SeqCst) {
                0 if !partial && n < expected => lost.push(n),
                0 => {}
                _ if n >= expected => unexpected.push(n),
                1 => {}
                _ => twice.push(n),
            }
        }
        if !unexpected.is_empty() {
            bail!(
                "{} jobs ran that were never spawned (first: {:?})",
                unexpected.len(),
                &unexpected[..unexpected.len().min(5)]
            );
        }
        if !lost.is_empty() || !twice.is_empty() {
            bail!(
                "{} jobs never ran (first: {:?}), {} ran more than once (first: {:?})",
                lost.len(),
                &lost[..lost.len().min(5)],
                twice.len(),
                &twice[..twice.len().min(5)]
            );
        }
        Ok(())
    }

    /// How many times each job ran.
    pub fn run_counts(&self) -> Vec<u32> {
        self.runs.iter().map(|r| r.load(Ordering::SeqCst)).collect()
    }

    /// Completion count and time at each tenth of the expected jobs.
    pub fn marks(&self) -> Vec<(usize, Instant)> {
        self.marks.lock().unwrap().clone()
    }

    /// Start and completion latencies in milliseconds, sorted, of the jobs
    /// whose start (or completion) was recorded.
    pub fn latencies_ms(&self) -> (Vec<f64>, Vec<f64>) {
        let Some(Latencies { start, done, .. }) = &self.latencies else {
            return (Vec::new(), Vec::new());
        };
        (sorted_ms(start), sorted_ms(done))
    }

    /// The start latencies (ms) of the started jobs numbered in `jobs`,
    /// sorted.
    pub fn start_latencies_ms(&self, jobs: Range<usize>) -> Vec<f64> {
        let Some(Latencies { start, .. }) = &self.latencies else {
            return Vec::new();
        };
        sorted_ms(&start[jobs])
    }

    /// Each started job's spawn time (µs, on [`now_us`]'s clock) and start
    /// latency (ms), unsorted: for latencies grouped by when jobs were
    /// spawned.
    pub fn start_latencies_by_spawn(&self) -> Vec<(i64, f64)> {
        let Some(latencies) = &self.latencies else {
            return Vec::new();
        };
        latencies
            .spawn
            .iter()
            .zip(&latencies.start)
            .map(|(spawn, start)| (spawn.load(Ordering::Relaxed), start.load(Ordering::Relaxed)))
            .filter(|&(_, start)| start >= 0)
            .map(|(spawn, start)| (spawn, start as f64 / 1000.0))
            .collect()
    }
}

/// How long each claim statement of a runner took, and when it began: for
/// a scenario that follows a claim's cost over time. Systems that can
/// report their claims (mq, through its runner's metrics hook; the raw
/// floor, which times its own) fill it when given one.
#[derive(Debug, Default)]
pub struct ClaimTimes {
    /// (when the claim began, on [`now_us`]'s clock; how long it took), µs.
    samples: Mutex<Vec<(i64, i64)>>,
}

impl ClaimTimes {
    /// A claim that just returned took `took`.
    pub fn record(&self, took: Duration) {
        let took = took.as_micros() as i64;
        let began = now_us() - took;
        self.samples.lock().unwrap().push((began, took));
    }

    /// Every claim recorded so far: when it began (µs, on [`now_us`]'s
    /// clock) and how long it took (ms).
    pub fn samples(&self) -> Vec<(i64, f64)> {
        self.samples
            .lock()
            .unwrap()
            .iter()
            .map(|&(began, took)| (began, took as f64 / 1000.0))
            .collect()
    }
}

/// The recorded values of `column` (µs; -1 for none), in milliseconds,
/// sorted.
fn sorted_ms(column: &[AtomicI64]) -> Vec<f64> {
    let mut v: Vec<f64> = column
        .iter()
        .map(|x| x.load(Ordering::Relaxed))
        .filter(|&us| us >= 0)
        .map(|us| us as f64 / 1000.0)
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(n: u32, ord: Option<(u32, u32)>) -> Payload {
        Payload { n, t: 0, ord }
    }

    #[test]
    fn exactly_once() {
        let r = Recorder::new(3);
        for n in 0..3 {
            r.started(&job(n, None));
            r.completed(&job(n, None));
        }
        r.check(false).unwrap();
        r.started(&job(1, None));
        assert!(
            r.check(false)
                .unwrap_err()
                .to_string()
                .contains("more than once")
        );
    }

    #[test]
    fn first_jobs_checked() {
        let r = Recorder::new(5);
        for n in 0..3 {
            r.started(&job(n, None));
        }
        r.check_first(3).unwrap();
        assert!(
            r.check_first(4)
                .unwrap_err()
                .to_string()
                .contains("never ran")
        );
        assert!(r.check_first(6).is_err());
        r.started(&job(4, None));
        assert!(
            r.check_first(3)
                .unwrap_err()
                .to_string()
                .contains("never spawned")
        );
    }

    #[test]
    fn lost_job_detected() {
        let r = Recorder::new(2);
        r.started(&job(0, None));
        assert!(
            r.check(false)
                .unwrap_err()
                .to_string()
                .contains("never ran")
        );
        r.check(true).unwrap();
    }

    #[test]
    fn order_violations_detected() {
        let r = Recorder::new(3).with_ordered_channels(1);
        r.started(&job(0, Some((0, 0))));
        r.body_done(&job(0, Some((0, 0))));
        r.started(&job(2, Some((0, 2))));
        assert!(
            r.check(false)
                .unwrap_err()
                .to_string()
                .contains("expecting job 1")
        );

        let r = Recorder::new(2).with_ordered_channels(1);
        r.started(&job(0, Some((0, 0))));
        r.started(&job(1, Some((0, 1))));
        assert!(
            r.check(false)
                .unwrap_err()
                .to_string()
                .contains("still running")
        );
    }
}
