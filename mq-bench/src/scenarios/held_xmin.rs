//! Scenario 8 (not in issue 5): a steady load while a long transaction
//! holds the xmin horizon.
//!
//! A PostgreSQL queue leaves a dead row (and dead index entries) behind
//! every job it claims and completes. Vacuum removes them only once no
//! snapshot can still see them; one long transaction anywhere in the
//! database holds that horizon back, so while it lasts the tables and their
//! indexes grow and every claim walks more dead entries. After it ends,
//! vacuum catches up, but files do not shrink back by themselves.
//!
//! One producer spawns at a steady rate through three phases: a warm-up
//! with nothing held (the baseline), a phase while another connection
//! holds a REPEATABLE READ snapshot open, and a phase after it commits.
//! Every bucket (a minute by default) becomes a row: throughput, backlog,
//! start latency, claim time, and the queue tables' dead rows and sizes.
//! The verdicts under the table are targets, not failures: only a job lost
//! or run twice, or an error, fails the scenario.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sqlx::Connection;
use tokio::sync::Semaphore;
use tokio::task::{JoinHandle, JoinSet};

use super::latency::MAX_IN_FLIGHT;
use super::{Ctx, reset};
use crate::db::{self, Footprint};
use crate::recorder::{ClaimTimes, Payload, Recorder, now_us};
use crate::report::{Column, Table, Unit, ratio, thousands};
use crate::stats::percentile;
use crate::systems::{Profile, RunnerOptions, System};

/// The phases, in order, by the names the rows carry.
const PHASES: [&str; 3] = ["warm-up", "held", "released"];
const WARM_UP: usize = 0;
const HELD: usize = 1;
const RELEASED: usize = 2;

/// Keeping up: the backlog at the end of each held bucket stays below
/// this many seconds of load.
const KEEP_UP_SECS: f64 = 5.0;
/// The held phase's worst p99 start latency may be this many times the
/// warm-up's.
const P99_TARGET: f64 = 2.0;
/// After the release, heap and indexes should come back within this many
/// times their size at the end of the warm-up...
const SIZE_TARGET: f64 = 2.0;
/// ...within this long.
const SIZE_WINDOW: Duration = Duration::from_secs(5 * 60);

const MIB: f64 = 1024.0 * 1024.0;

/// The table of scenario 8.
pub fn table(ctx: &Ctx) -> Table {
    let s = &ctx.sizes;
    let [warm_up, held, released] = s.held_xmin_minutes;
    let rate = s.held_xmin_rate;
    let columns = vec![
        Column::new("spawned jobs/s", Unit::Rate),
        Column::new("completed jobs/s", Unit::Rate),
        Column::new("backlog", Unit::Count),
        Column::new("start p50 ms", Unit::Millis),
        Column::new("start p99 ms", Unit::Millis),
        Column::new("claim p50 ms", Unit::Millis),
        Column::new("claim p99 ms", Unit::Millis),
        Column::new("dead rows", Unit::Count),
        Column::new("heap MiB", Unit::MiB),
        Column::new("index MiB", Unit::MiB),
    ];
    // A row per bucket and system: a ratio row for each would bury them;
    // the verdicts below compare the phases instead.
    let mut table = Table::new(
        format!(
            "8. A held xmin: steady load while a REPEATABLE READ transaction holds the horizon ({} jobs/s; {warm_up} min warm-up, {held} min held, {released} min released)",
            thousands(rate as i64)
        ),
        columns,
    )
    .without_ratios();
    table.note("mq-sqlx, mq-tokio-postgres and raw only (sqlxmq and river are skipped): the issue asks for mq beside the raw-SQL floor");
    table.note(format!(
        "one run per system whatever --reps says: a run lasts {} min, and its rows are already a series over time",
        // Rounded, so that 0.05 + 0.05 + 0.05 does not print 0.15000000000000002.
        ((warm_up + held + released) * 1000.0).round() / 1000.0
    ));
    table.note(format!(
        "load: one producer spawning one job per call at {} jobs/s (at most {MAX_IN_FLIGHT} spawns in flight), without a pause from the first phase to the last; one runner with default settings",
        thousands(rate as i64)
    ));
    table.note("held: at the start of the held phase a separate connection to the system's own database runs `BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1` and then stays idle in that transaction (its `pg_stat_activity.backend_xmin` is checked to be set), so vacuum can remove no row that dies after it; it commits at the start of the released phase");
    table.note(format!(
        "a row per bucket of {} s (the last of a phase may be shorter), named by its number, phase and end (m:ss from the first spawn): spawned, completed: jobs/s within the bucket; backlog: jobs spawned minus jobs completed at its end; start p50/p99: spawn-to-start latency of the jobs spawned within it; claim p50/p99: every claim statement begun within it, the ones that found nothing included (mq: as its runner reports them to `RunnerMetrics::jobs_claimed`, a wait for a pooled connection included; raw: its claim `UPDATE ... FOR UPDATE SKIP LOCKED`, timed the same way); dead rows (`n_dead_tup`, which lags by up to a second), heap (`pg_relation_size`) and index (`pg_indexes_size`): the queue's tables, summed over their partitions, at the bucket's end",
        s.held_xmin_bucket_secs
    ));
    table.note("mq-sqlx and mq-tokio-postgres share one database (mq_bench_mq), emptied (TRUNCATE), vacuumed and checkpointed before each run");
    table
}

/// The note that introduces the systems' verdict lines: added with the
/// first of them, so that it sits right above them (after the notes the
/// main loop adds once the table is made).
fn verdicts_note(rate: f64) -> String {
    format!(
        "verdicts, targets rather than failures (only a job lost or run twice, or an error, fails the scenario): *keeps up*: the backlog at the end of every held bucket below {KEEP_UP_SECS} s of load ({} jobs); *p99 ratio*: the worst held bucket's start p99 over the whole warm-up's, {P99_TARGET}x or less; *size back*: heap + index within {SIZE_TARGET}x of their size at the end of the warm-up, at the end of a bucket no more than {} min after the release (the first such bucket):",
        thousands((rate * KEEP_UP_SECS) as i64),
        SIZE_WINDOW.as_secs() / 60
    )
}

/// One row's span of time, as offsets from the run's first spawn.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Index into [`PHASES`].
    phase: usize,
    start: Duration,
    end: Duration,
}

/// The buckets of the three phases: each phase cut into buckets of
/// `bucket` (a bucket never spans two phases), the last of a phase shorter
/// if the phase is not a whole number of them.
fn plan(minutes: [f64; 3], bucket: f64) -> Vec<Bucket> {
    // Whole milliseconds, so that 0.1 min is 6 s and not 6 s and a sliver.
    let bucket = Duration::from_millis((bucket * 1000.0).round().max(1.0) as u64);
    let mut buckets = Vec::new();
    let mut phase_start = Duration::ZERO;
    for (phase, minutes) in minutes.iter().enumerate() {
        let length = Duration::from_millis((minutes * 60_000.0).round().max(1.0) as u64);
        let phase_end = phase_start + length;
        let mut start = phase_start;
        while start < phase_end {
            let mut end = (start + bucket).min(phase_end);
            // A remainder under a quarter of a bucket joins this bucket
            // rather than make a row of its own too short to say much.
            if phase_end - end < bucket / 4 {
                end = phase_end;
            }
            buckets.push(Bucket { phase, start, end });
            start = end;
        }
        phase_start = phase_end;
    }
    buckets
}

/// `d` as m:ss (with tenths of a second if it has any).
fn clock(d: Duration) -> String {
    let ms = d.as_millis();
    let (minutes, ms) = (ms / 60_000, ms % 60_000);
    if ms.is_multiple_of(1000) {
        format!("{minutes}:{:02}", ms / 1000)
    } else {
        format!("{minutes}:{:04.1}", ms as f64 / 1000.0)
    }
}

/// `d` in words: seconds under a minute, else minutes.
fn span(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{} s", (secs * 10.0).round() / 10.0)
    } else {
        format!("{} min", (secs / 6.0).round() / 10.0)
    }
}

/// What was seen at the end of one bucket.
#[derive(Debug, Clone, Copy)]
struct Snapshot {
    at: Instant,
    /// Spawn calls returned so far.
    spawned: usize,
    /// Completions recorded so far.
    completed: usize,
    footprint: Footprint,
}

/// What the phases produced.
struct Driven {
    /// When the producer started, on both clocks.
    t0: Instant,
    t0_us: i64,
    snapshots: Vec<Snapshot>,
    /// Jobs spawned (numbered `0..spawned`).
    spawned: usize,
}

/// Runs the three phases for `system` with one runner, then checks that
/// every job spawned ran exactly once and adds a row per bucket and the
/// system's verdicts to `table`.
pub async fn run(ctx: &Ctx, system: &Arc<dyn System>, table: &mut Table) -> Result<()> {
    let sizes = &ctx.sizes;
    let rate = sizes.held_xmin_rate.max(1) as f64;
    let buckets = plan(sizes.held_xmin_minutes, sizes.held_xmin_bucket_secs);
    let total = buckets.last().map_or(Duration::ZERO, |b| b.end);

    reset(system).await?;
    // Room for every job the producer may spawn: it spawns job n at n / rate
    // seconds, and none at or after the end.
    let capacity = (rate * total.as_secs_f64()).ceil() as usize + 1;
    let recorder = Arc::new(Recorder::new(capacity).with_latencies());
    let claims = Arc::new(ClaimTimes::default());
    let runner = system
        .start_runner(
            RunnerOptions {
                profile: Profile::Default,
                ordered_channels: None,
                claim_times: Some(claims.clone()),
                job_duration: None,
            },
            recorder.clone(),
        )
        .await?;
    // Let the runner reach its idle state (listening, first poll done).
    tokio::time::sleep(Duration::from_millis(500)).await;

    let driven = drive(ctx, system, &buckets, rate, &recorder).await;
    let waited = match &driven {
        Ok(driven) => recorder.wait_completed(driven.spawned, ctx.stall()).await,
        Err(_) => Ok(()),
    };
    let stopped = runner.stop().await;
    let driven = driven?;
    waited?;
    stopped?;
    recorder.check_first(driven.spawned)?;

    let rows = rows(&buckets, &driven, &recorder, &claims);
    for (i, (bucket, row)) in buckets.iter().zip(&rows).enumerate() {
        table.add(system.kind(), &variant(i, bucket), &row.values());
    }
    table.note(verdicts_note(rate));
    table.note(format!(
        "{}: {}",
        system.kind(),
        verdicts(&buckets, &rows, &driven, &recorder, rate)
    ));
    Ok(())
}

/// The name of the row of bucket `i`: its number from 1, phase, and end.
fn variant(i: usize, bucket: &Bucket) -> String {
    format!(
        "{} {} (to {})",
        i + 1,
        PHASES[bucket.phase],
        clock(bucket.end)
    )
}

/// Starts the producer and goes through the buckets, holding the xmin
/// during the held phase. The held transaction ends on every path, and
/// the producer is stopped and awaited.
async fn drive(
    ctx: &Ctx,
    system: &Arc<dyn System>,
    buckets: &[Bucket],
    rate: f64,
    recorder: &Recorder,
) -> Result<Driven> {
    let url = db::with_database(&ctx.config.server_url, system.kind().database())?;
    let total = buckets.last().map_or(Duration::ZERO, |b| b.end);
    let spawned = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let t0_us = now_us();
    let producer = tokio::spawn(produce(
        system.clone(),
        rate,
        t0,
        t0 + total,
        spawned.clone(),
        stop.clone(),
    ));

    let mut held = None;
    let observed = observe(
        system, &url, buckets, t0, &spawned, recorder, &producer, &mut held,
    )
    .await;
    // Normally released when the released phase begins; here if the
    // phases stopped on an error while it was held.
    let released = match held.take() {
        Some(held) => held.release().await,
        None => Ok(()),
    };
    if observed.is_err() {
        stop.store(true, Ordering::Relaxed);
    }
    let produced = producer.await.context("the producer panicked")?;
    // A failed spawn first: the phases stopping early follows from it.
    let spawned = produced?;
    let snapshots = observed?;
    released?;
    Ok(Driven {
        t0,
        t0_us,
        snapshots,
        spawned,
    })
}

/// Waits out each bucket and snapshots the counts and the queue tables at
/// its end; opens the held transaction into `held` as the held phase
/// begins, and commits it as the released phase begins.
#[allow(clippy::too_many_arguments)]
async fn observe(
    system: &Arc<dyn System>,
    url: &str,
    buckets: &[Bucket],
    t0: Instant,
    spawned: &AtomicUsize,
    recorder: &Recorder,
    producer: &JoinHandle<Result<usize>>,
    held: &mut Option<HeldXmin>,
) -> Result<Vec<Snapshot>> {
    let mut snapshots = Vec::with_capacity(buckets.len());
    let mut phase = None;
    for (i, bucket) in buckets.iter().enumerate() {
        if phase != Some(bucket.phase) {
            phase = Some(bucket.phase);
            match bucket.phase {
                HELD => {
                    let xmin = HeldXmin::begin(url, system.admin_pool()).await?;
                    eprintln!(
                        "    holding xmin {} on {}",
                        xmin.xmin,
                        system.kind().database()
                    );
                    *held = Some(xmin);
                }
                RELEASED => {
                    if let Some(xmin) = held.take() {
                        xmin.release().await?;
                        eprintln!("    released the xmin");
                    }
                }
                _ => {}
            }
        }
        tokio::time::sleep_until((t0 + bucket.end).into()).await;
        let at = Instant::now();
        let spawned = spawned.load(Ordering::SeqCst);
        let completed = recorder.completed_count();
        let footprint = db::footprint(system.admin_pool(), system.tables()).await?;
        eprintln!(
            "    {} {}: {} spawned, backlog {}, {} dead rows, heap {:.1} MiB, indexes {:.1} MiB",
            clock(bucket.end),
            PHASES[bucket.phase],
            thousands(spawned as i64),
            thousands(spawned.saturating_sub(completed) as i64),
            thousands(footprint.dead),
            footprint.heap_bytes as f64 / MIB,
            footprint.index_bytes as f64 / MIB,
        );
        snapshots.push(Snapshot {
            at,
            spawned,
            completed,
            footprint,
        });
        if producer.is_finished() && i + 1 < buckets.len() {
            bail!(
                "the producer stopped at {} of {}",
                clock(bucket.end),
                clock(buckets[buckets.len() - 1].end)
            );
        }
    }
    Ok(snapshots)
}

/// Spawns job after job at `rate` per second, one per call, job n due at
/// `start + n / rate`, until `end` (or `stop`). At most [`MAX_IN_FLIGHT`]
/// calls are in flight: one that cannot keep up falls behind, and the
/// spawned rate shows it. Counts each call that returned in `spawned`;
/// returns how many jobs it spawned (numbered from 0).
async fn produce(
    system: Arc<dyn System>,
    rate: f64,
    start: Instant,
    end: Instant,
    spawned: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> Result<usize> {
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut tasks = JoinSet::new();
    let mut n = 0usize;
    loop {
        let due = start + Duration::from_secs_f64(n as f64 / rate);
        if due >= end || Instant::now() >= end || stop.load(Ordering::Relaxed) {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let permit = permits.clone().acquire_owned().await?;
        // Reap the finished calls as we go: a full run spawns over a
        // million jobs, too many task handles to keep until the end.
        while let Some(done) = tasks.try_join_next() {
            done??;
        }
        let job = u32::try_from(n).context("job number")?;
        let (system, spawned) = (system.clone(), spawned.clone());
        tasks.spawn(async move {
            // Stamped right before the call, as in scenario 5.
            let result = system.spawn_one(&Payload::new(job)).await;
            drop(permit);
            if result.is_ok() {
                spawned.fetch_add(1, Ordering::SeqCst);
            }
            result
        });
        n += 1;
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(n)
}

/// A transaction holding the xmin horizon of one database: a REPEATABLE
/// READ transaction keeps the snapshot its first statement took until it
/// ends, and with it the oldest transaction vacuum must keep rows for.
///
/// It is a plain connection of its own, no pool's, so that nothing else
/// ever runs on it. [`release`](Self::release) commits it; should it be
/// dropped instead (a task cancelled), dropping the connection closes its
/// socket, and the server rolls the transaction back.
pub(crate) struct HeldXmin {
    conn: sqlx::PgConnection,
    /// The xmin it holds, as the server reports it.
    xmin: String,
}

impl HeldXmin {
    /// Opens the transaction on the database at `url`, and checks through
    /// `admin` (a pool on the same database) that it holds an xmin.
    pub(crate) async fn begin(url: &str, admin: &sqlx::PgPool) -> Result<Self> {
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .context("connecting the transaction that holds the xmin")?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut conn)
            .await?;
        sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut conn)
            .await?;
        // The snapshot, and with it the xmin, is taken by the first
        // statement after BEGIN; it reads nothing, so it holds no lock.
        sqlx::raw_sql("SELECT 1").execute(&mut conn).await?;
        let xmin: Option<Option<String>> =
            sqlx::query_scalar("SELECT backend_xmin::text FROM pg_stat_activity WHERE pid = $1")
                .bind(pid)
                .fetch_optional(admin)
                .await?;
        match xmin {
            Some(Some(xmin)) => Ok(HeldXmin { conn, xmin }),
            found => {
                let held = HeldXmin {
                    conn,
                    xmin: String::new(),
                };
                held.release().await?;
                bail!(
                    "the REPEATABLE READ transaction (backend {pid}) holds no xmin: pg_stat_activity says {found:?}"
                )
            }
        }
    }

    /// Commits the transaction and closes the connection. Fails if the
    /// server ended the session meanwhile (say, by
    /// idle_in_transaction_session_timeout): the held phase was then not
    /// what its rows claim.
    pub(crate) async fn release(mut self) -> Result<()> {
        sqlx::raw_sql("COMMIT")
            .execute(&mut self.conn)
            .await
            .context(
                "committing the transaction that held the xmin (did the server end its session, \
                 say by idle_in_transaction_session_timeout?)",
            )?;
        self.conn.close().await?;
        Ok(())
    }
}

/// One bucket's figures.
#[derive(Debug, Clone, Copy)]
struct Row {
    spawned_rate: f64,
    completed_rate: f64,
    backlog: usize,
    start_p50: Option<f64>,
    start_p99: Option<f64>,
    claim_p50: Option<f64>,
    claim_p99: Option<f64>,
    footprint: Footprint,
}

impl Row {
    /// The table's cells, in its columns' order.
    fn values(&self) -> Vec<Option<f64>> {
        vec![
            Some(self.spawned_rate),
            Some(self.completed_rate),
            Some(self.backlog as f64),
            self.start_p50,
            self.start_p99,
            self.claim_p50,
            self.claim_p99,
            Some(self.footprint.dead as f64),
            Some(self.footprint.heap_bytes as f64 / MIB),
            Some(self.footprint.index_bytes as f64 / MIB),
        ]
    }
}

/// Which bucket an offset from the first spawn falls in; past the last
/// bucket, none.
fn bucket_at(buckets: &[Bucket], offset_us: i64) -> Option<usize> {
    if offset_us < 0 {
        return None;
    }
    let i = buckets.partition_point(|b| (b.end.as_micros() as i64) <= offset_us);
    (i < buckets.len()).then_some(i)
}

/// Latencies (ms) grouped by the bucket their time stamp (µs, on
/// [`now_us`]'s clock) falls in, each group sorted. Stamps past the end go
/// to the last bucket when `clamp` (a spawn stamped just after the
/// producer's deadline), and are dropped otherwise.
fn group(buckets: &[Bucket], t0_us: i64, samples: &[(i64, f64)], clamp: bool) -> Vec<Vec<f64>> {
    let mut groups = vec![Vec::new(); buckets.len()];
    for &(at, ms) in samples {
        let offset = at - t0_us;
        let i = match bucket_at(buckets, offset) {
            Some(i) => i,
            None if clamp && offset >= 0 => buckets.len() - 1,
            None => continue,
        };
        groups[i].push(ms);
    }
    for g in &mut groups {
        g.sort_by(f64::total_cmp);
    }
    groups
}

/// Each bucket's row, from the snapshots at the buckets' ends, the start
/// latencies by spawn time, and the claim times by when claims began.
fn rows(buckets: &[Bucket], driven: &Driven, recorder: &Recorder, claims: &ClaimTimes) -> Vec<Row> {
    let starts = group(
        buckets,
        driven.t0_us,
        &recorder.start_latencies_by_spawn(),
        true,
    );
    let claims = group(buckets, driven.t0_us, &claims.samples(), false);
    let mut previous = (driven.t0, 0usize, 0usize);
    driven
        .snapshots
        .iter()
        .enumerate()
        .map(|(i, snap)| {
            let (since, spawned, completed) = previous;
            previous = (snap.at, snap.spawned, snap.completed);
            let secs = (snap.at - since).as_secs_f64().max(1e-3);
            Row {
                spawned_rate: snap.spawned.saturating_sub(spawned) as f64 / secs,
                completed_rate: snap.completed.saturating_sub(completed) as f64 / secs,
                backlog: snap.spawned.saturating_sub(snap.completed),
                start_p50: percentile(&starts[i], 50.0),
                start_p99: percentile(&starts[i], 99.0),
                claim_p50: percentile(&claims[i], 50.0),
                claim_p99: percentile(&claims[i], 99.0),
                footprint: snap.footprint,
            }
        })
        .collect()
}

/// The line of verdicts for one system: keeps up, p99 ratio, size back.
fn verdicts(
    buckets: &[Bucket],
    rows: &[Row],
    driven: &Driven,
    recorder: &Recorder,
    rate: f64,
) -> String {
    let mark = |ok: bool| if ok { "✓" } else { "✗" };
    let in_phase = |phase: usize| {
        buckets
            .iter()
            .zip(rows)
            .filter(move |(b, _)| b.phase == phase)
    };

    // (a) Keeps up: every held bucket ends with less than KEEP_UP_SECS of
    // load waiting.
    let limit = rate * KEEP_UP_SECS;
    let worst_backlog = in_phase(HELD).max_by_key(|(_, r)| r.backlog);
    let keeps_up = match worst_backlog {
        Some((b, r)) if r.backlog as f64 >= limit => format!(
            "keeps up {} (backlog {} at {})",
            mark(false),
            thousands(r.backlog as i64),
            clock(b.end)
        ),
        Some((_, r)) => format!(
            "keeps up {} (backlog {} at most)",
            mark(true),
            thousands(r.backlog as i64)
        ),
        None => "keeps up n/a".into(),
    };

    // (b) The worst held bucket's p99 against the whole warm-up's.
    let warm_up_end = in_phase(WARM_UP)
        .next_back()
        .map_or(0, |(b, _)| b.end.as_micros() as i64);
    let mut warm_up: Vec<f64> = recorder
        .start_latencies_by_spawn()
        .into_iter()
        .filter(|&(at, _)| at - driven.t0_us < warm_up_end)
        .map(|(_, ms)| ms)
        .collect();
    warm_up.sort_by(f64::total_cmp);
    let worst_held = in_phase(HELD)
        .filter_map(|(b, r)| Some((b, r.start_p99?)))
        .max_by(|x, y| x.1.total_cmp(&y.1));
    let p99 = match (percentile(&warm_up, 99.0), worst_held) {
        (Some(base), Some((b, held))) if base > 0.0 => {
            let r = held / base;
            format!(
                "p99 ratio {}x {} (held {} ms at {} over warm-up {} ms)",
                ratio(r),
                mark(r <= P99_TARGET),
                ms(held),
                clock(b.end),
                ms(base)
            )
        }
        _ => "p99 ratio n/a".into(),
    };

    // (c) The first bucket, within SIZE_WINDOW of the release, whose heap
    // and indexes are back within SIZE_TARGET of the warm-up's end.
    let size = |f: &Footprint| (f.heap_bytes + f.index_bytes) as f64;
    let base = in_phase(WARM_UP)
        .next_back()
        .map(|(_, r)| size(&r.footprint));
    let released_at = in_phase(RELEASED).next().map(|(b, _)| b.start);
    let size_back = match (base, released_at) {
        (Some(base), Some(released_at)) if base > 0.0 => {
            let window: Vec<_> = in_phase(RELEASED)
                .filter(|(b, _)| b.end - released_at <= SIZE_WINDOW)
                .collect();
            let peak = rows.iter().map(|r| size(&r.footprint)).fold(0.0, f64::max);
            match window
                .iter()
                .find(|(_, r)| size(&r.footprint) <= SIZE_TARGET * base)
            {
                Some((b, _)) => format!(
                    "size back within {SIZE_TARGET}x after {} {} (peak {}x)",
                    span(b.end - released_at),
                    mark(true),
                    ratio(peak / base)
                ),
                None => {
                    // The whole window, unless the released phase was
                    // shorter (a short or quick run).
                    let last = window.last();
                    let ran = buckets
                        .last()
                        .map_or(Duration::ZERO, |b| b.end - released_at);
                    let within = if ran >= SIZE_WINDOW {
                        span(SIZE_WINDOW)
                    } else {
                        format!("the {} the run lasted after the release", span(ran))
                    };
                    format!(
                        "size back within {SIZE_TARGET}x: not within {within} {} ({}x at its end; peak {}x)",
                        mark(false),
                        last.map_or_else(
                            || "n/a".into(),
                            |(_, r)| ratio(size(&r.footprint) / base)
                        ),
                        ratio(peak / base)
                    )
                }
            }
        }
        _ => "size back n/a".into(),
    };
    format!("{keeps_up} / {p99} / {size_back}")
}

/// Milliseconds as the table prints them.
fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        thousands(value.round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_cut_into_buckets() {
        let b = plan([1.0, 2.0, 1.5], 60.0);
        let ends: Vec<u64> = b.iter().map(|b| b.end.as_secs()).collect();
        assert_eq!(ends, [60, 120, 180, 240, 270]);
        let phases: Vec<usize> = b.iter().map(|b| b.phase).collect();
        assert_eq!(phases, [0, 1, 1, 2, 2]);
        // 0.1 min is 6 s exactly, not 6 s and a sliver.
        let b = plan([0.1, 0.2, 0.2], 3.0);
        assert_eq!(b.len(), 2 + 4 + 4);
        assert_eq!(b.last().unwrap().end, Duration::from_secs(30));
        // A remainder under a quarter of a bucket joins the one before.
        let b = plan([1.01, 1.0, 1.0], 60.0);
        assert_eq!(b[0].end, Duration::from_millis(60_600));
        assert_eq!(b.len(), 3);
    }

    #[test]
    fn buckets_by_offset() {
        let b = plan([0.05, 0.05, 0.05], 1.0);
        assert_eq!(bucket_at(&b, -1), None);
        assert_eq!(bucket_at(&b, 0), Some(0));
        assert_eq!(bucket_at(&b, 999_999), Some(0));
        assert_eq!(bucket_at(&b, 1_000_000), Some(1));
        assert_eq!(bucket_at(&b, 8_999_999), Some(8));
        assert_eq!(bucket_at(&b, 9_000_000), None);
        let g = group(&b, 100, &[(50, 1.0), (100, 2.0), (9_000_100, 3.0)], true);
        assert_eq!(g[0], [2.0]);
        assert_eq!(g[8], [3.0]);
        let g = group(&b, 100, &[(9_000_100, 3.0)], false);
        assert!(g.iter().all(Vec::is_empty));
    }

    #[test]
    fn clocks_and_spans() {
        assert_eq!(clock(Duration::from_secs(0)), "0:00");
        assert_eq!(clock(Duration::from_secs(75)), "1:15");
        assert_eq!(clock(Duration::from_millis(1_500)), "0:01.5");
        assert_eq!(clock(Duration::from_secs(21 * 60)), "21:00");
        assert_eq!(span(Duration::from_secs(15)), "15 s");
        assert_eq!(span(Duration::from_secs(120)), "2 min");
        assert_eq!(span(Duration::from_secs(150)), "2.5 min");
    }
}
