//! The overview's numbers, counted in the background.
//!
//! [`mq::admin::stats`] counts the whole jobs table (about 170 ms on a
//! million jobs), and the limits' use counts each limited channel's ready
//! jobs: no request may wait for them. Each dashboard keeps the last
//! [`Snapshot`] of them instead, and pages render from it at once, saying
//! how old it is; the very first request of all renders a "counting"
//! placeholder.
//!
//! A task refreshes the snapshot only while someone is watching: a request
//! of a page that shows it, or a live-update client, within the last
//! [`IDLE_AFTER`]. The first such request starts the task (on the runtime
//! that serves it); it stops by itself once nobody has watched for that
//! long, or when the dashboard is dropped, so an idle dashboard costs the
//! database nothing.
//!
//! Refreshes are spaced by their cost: after one that took `t`, the next
//! starts [`spacing`]`(t)` = max([`MIN_SPACING`], [`COST_FACTOR`] × `t`)
//! later, so the counting takes at most 1/20 of one database connection's
//! time, however large the table grows: 170 ms of counting every 3.4 s on
//! a million jobs, 10 ms every 2 s on a small queue.
//!
//! Of the designs that avoid counting at all (counters kept by triggers on
//! every state change, or PostgreSQL's estimates), counters would cost
//! every spawn and claim a write on a hot row, which mq's hot paths are
//! measured not to pay, and estimates are wrong by far too much for a
//! channel of a few jobs. Counting a few times a minute, only while
//! someone looks, costs nothing the rest of the time.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use mq::Backend;
use mq::admin::{LimitInfo, QueueStats};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::time::Instant;

use mq::admin::{MinuteCount, RunnerInfo};

/// The least time between the starts of two refreshes.
pub(crate) const MIN_SPACING: Duration = Duration::from_secs(2);

/// How many times its own duration a refresh waits before the next.
pub(crate) const COST_FACTOR: u32 = 20;

/// How long after the last watcher the refreshing stops.
pub(crate) const IDLE_AFTER: Duration = Duration::from_secs(60);

/// How far back the throughput chart looks.
pub(crate) const CHART_WINDOW: Duration = Duration::from_secs(3600);

/// The wait after a refresh that took `took`.
pub(crate) fn spacing(took: Duration) -> Duration {
    MIN_SPACING.max(took.saturating_mul(COST_FACTOR))
}

/// What one refresh read.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// Jobs per channel and state, and the paused channels.
    pub(crate) stats: QueueStats,
    /// Every channel limit with its use.
    pub(crate) limits: Vec<LimitInfo>,
    /// Jobs finished per minute over the last hour, as runners report
    /// them.
    pub(crate) throughput: Vec<MinuteCount>,
    /// The runners, as they last reported.
    pub(crate) runners: Vec<RunnerInfo>,
    /// When the numbers were read (for their age).
    pub(crate) read_at: Instant,
    /// The same, on the wall clock (for the chart's minutes).
    pub(crate) read_at_utc: OffsetDateTime,
    /// How long reading them took.
    pub(crate) took: Duration,
    /// Why the latest refresh failed, when it did: the numbers are then
    /// the last ones read successfully.
    pub(crate) error: Option<String>,
    /// Whether any refresh succeeded: when none did, there are no numbers
    /// at all, only the error.
    pub(crate) counted: bool,
}

/// The numbers and the task that keeps them fresh; see the module docs.
pub(crate) struct StatsCache {
    shared: Arc<Shared>,
}

struct Shared {
    backend: Arc<dyn Backend>,
    watchers: Mutex<Watchers>,
    latest: watch::Sender<Option<Arc<Snapshot>>>,
}

struct Watchers {
    /// When someone last looked.
    last_seen: Instant,
    /// Whether the refresh task runs.
    refreshing: bool,
}

impl StatsCache {
    /// A cache with nothing counted yet; nothing runs until [`watch`](Self::watch).
    pub(crate) fn new(backend: Arc<dyn Backend>) -> Self {
        Self {
            shared: Arc::new(Shared {
                backend,
                watchers: Mutex::new(Watchers {
                    last_seen: Instant::now(),
                    refreshing: false,
                }),
                latest: watch::Sender::new(None),
            }),
        }
    }

    /// Records that someone is watching, starts the refresh task if it is
    /// not running, and returns the latest snapshot (`None` before the
    /// first refresh ends). Never waits for the database.
    pub(crate) fn watch(&self) -> Option<Arc<Snapshot>> {
        let start = {
            let mut watchers = self.lock();
            watchers.last_seen = Instant::now();
            !std::mem::replace(&mut watchers.refreshing, true)
        };
        if start {
            tokio::spawn(refresh(Arc::downgrade(&self.shared)));
        }
        self.shared.latest.borrow().clone()
    }

    /// A receiver that sees each new snapshot.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<Arc<Snapshot>>> {
        self.shared.latest.subscribe()
    }

    /// Whether the refresh task runs (for tests).
    #[cfg(test)]
    fn is_refreshing(&self) -> bool {
        self.lock().refreshing
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Watchers> {
        lock(&self.shared)
    }
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Watchers> {
    // The guarded data is two plain fields, valid whatever a panicking
    // holder did.
    shared
        .watchers
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The refresh task: refreshes, waits [`spacing`], and goes on while
/// someone watched lately and the dashboard exists.
async fn refresh(shared: Weak<Shared>) {
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let started = Instant::now();
        let read = read(&*strong.backend).await;
        let took = started.elapsed();
        let previous = strong.latest.borrow().clone();
        let snapshot = match read {
            Ok((stats, limits, throughput, runners)) => Snapshot {
                stats,
                limits,
                throughput,
                runners,
                read_at: Instant::now(),
                read_at_utc: OffsetDateTime::now_utc(),
                took,
                error: None,
                counted: true,
            },
            Err(error) => {
                let error = Some(crate::error::chain(&error));
                match previous {
                    // Keep the last good numbers, with their own age.
                    Some(previous) => Snapshot {
                        stats: previous.stats.clone(),
                        limits: previous.limits.clone(),
                        throughput: previous.throughput.clone(),
                        runners: previous.runners.clone(),
                        read_at: previous.read_at,
                        read_at_utc: previous.read_at_utc,
                        took: previous.took,
                        error,
                        counted: previous.counted,
                    },
                    None => Snapshot {
                        stats: QueueStats::default(),
                        limits: Vec::new(),
                        throughput: Vec::new(),
                        runners: Vec::new(),
                        read_at: Instant::now(),
                        read_at_utc: OffsetDateTime::now_utc(),
                        took,
                        error,
                        counted: false,
                    },
                }
            }
        };
        strong.latest.send_replace(Some(Arc::new(snapshot)));
        drop(strong);

        tokio::time::sleep(spacing(took)).await;

        let Some(strong) = shared.upgrade() else {
            return;
        };
        let mut watchers = lock(&strong);
        if watchers.last_seen.elapsed() >= IDLE_AFTER {
            // Under the lock, so that a watcher arriving now starts a new
            // task rather than counting on this one.
            watchers.refreshing = false;
            return;
        }
    }
}

type Read = (
    QueueStats,
    Vec<LimitInfo>,
    Vec<MinuteCount>,
    Vec<RunnerInfo>,
);

async fn read(backend: &dyn Backend) -> mq::Result<Read> {
    let stats = mq::admin::stats(backend).await?;
    let limits = mq::admin::limits(backend).await?;
    let throughput = mq::admin::throughput(backend, CHART_WINDOW).await?;
    let runners = mq::admin::runners(backend).await?;
    Ok((stats, limits, throughput, runners))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mq::JobState;
    use mq::testing::MemoryBackend;

    #[test]
    fn refreshes_are_spaced_by_their_cost() {
        assert_eq!(spacing(Duration::ZERO), MIN_SPACING);
        assert_eq!(spacing(Duration::from_millis(100)), MIN_SPACING);
        assert_eq!(
            spacing(Duration::from_millis(170)),
            Duration::from_millis(3400)
        );
        assert_eq!(spacing(Duration::from_secs(1)), Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn refreshes_while_watched_and_stops_when_idle() {
        let backend = MemoryBackend::new();
        mq::JobBuilder::new("a").spawn(&backend).await.unwrap();
        let cache = StatsCache::new(mq::IntoBackend::into_backend(&backend));
        let mut snapshots = cache.subscribe();
        assert!(!cache.is_refreshing());

        // The first look does not wait: nothing is counted yet.
        assert!(cache.watch().is_none());
        snapshots.changed().await.unwrap();
        let first = cache.watch().expect("counted");
        assert_eq!(first.stats.total(JobState::Ready), 1);

        // The next refresh comes MIN_SPACING later, not before.
        mq::JobBuilder::new("b").spawn(&backend).await.unwrap();
        tokio::time::sleep(MIN_SPACING - Duration::from_millis(100)).await;
        assert!(!snapshots.has_changed().unwrap());
        snapshots.changed().await.unwrap();
        let second = snapshots.borrow_and_update().clone().unwrap();
        assert_eq!(second.stats.total(JobState::Ready), 2);
        assert!(second.read_at - first.read_at >= MIN_SPACING);

        // Nobody watches: the task stops after IDLE_AFTER, and refreshes
        // no more.
        tokio::time::sleep(IDLE_AFTER + MIN_SPACING * 2).await;
        assert!(!cache.is_refreshing());
        snapshots.mark_unchanged();
        tokio::time::sleep(IDLE_AFTER).await;
        assert!(!snapshots.has_changed().unwrap());

        // A new look starts it again, and renders the old numbers at once.
        let stale = cache.watch().expect("kept");
        assert!(cache.is_refreshing());
        snapshots.changed().await.unwrap();
        assert!(snapshots.borrow().as_ref().unwrap().read_at > stale.read_at);
    }

    #[tokio::test(start_paused = true)]
    async fn the_task_ends_with_the_dashboard() {
        let backend = MemoryBackend::new();
        let cache = StatsCache::new(mq::IntoBackend::into_backend(&backend));
        let weak = Arc::downgrade(&cache.shared);
        let mut snapshots = cache.subscribe();
        cache.watch();
        snapshots.changed().await.unwrap();
        drop(cache);
        assert!(
            weak.upgrade().is_none(),
            "the task holds no reference between refreshes"
        );
        // The task wakes up, finds the dashboard gone, and returns.
        tokio::time::sleep(MIN_SPACING * 2).await;
        assert!(snapshots.changed().await.is_err());
    }
}
