//! Channel limits across processes: four worker processes drain two
//! limited channels beside an unlimited one, and the harness checks, from
//! the database, that the limits held, that they bound (a run in which
//! nothing reached a limit would prove nothing), and that the unlimited
//! channel kept its pace. One worker is killed with SIGKILL mid-drain: the
//! slots its jobs held must stay taken until their leases lapse, then come
//! back.
//!
//! Three records, each read apart:
//!
//! - What really ran. Each job records its start (`rel_started`) and
//!   writes its side effect in the transaction that completes it
//!   (`rel_effects`). An attempt runs from the one to the other, or, on the
//!   killed worker, to the kill. These intervals lie inside mq's own (the
//!   claim commits before the job starts; the slot is freed only when the
//!   completion commits, after the side effect), so their overlaps count,
//!   exactly and without sampling, how many jobs of a channel ran at once.
//! - What mq counted. Every 25 ms a sampler on its own connection counts,
//!   in one statement, each limited channel's running jobs as the limited
//!   claim counts them (its rows of `mq_jobs` in state running that a
//!   limited claim started, whatever their lease), and the plain running
//!   rows of `mq_jobs`, with a current lease and without.
//! - The claims. A trigger on `mq_limit_claims` copies every row a limited
//!   claim inserts, with its `claimed_at` (the claim statement's time, the
//!   one mq's rate window counts), into `rel_limit_claims`. Limited claims
//!   prune the rows that count for nothing any more, a rate period after
//!   they were made: a sampler that copied them would lose the claims of
//!   any stall longer than that on a loaded machine, where the trigger,
//!   which writes in the claim's own transaction, misses none and records
//!   nothing for a claim that rolled back. Its table has no unique
//!   constraint, so the trigger can never fail a claim.
//!
//! mq's count and the count of running rows with a current lease are
//! asserted. After the kill, the dead worker's jobs stay `running` in
//! `mq_jobs`, their leases lapsed, until a runner's schedule run makes them
//! ready again (up to a poll interval later), and they keep their slots
//! until then: a late runner may still renew a lapsed lease. A job of a
//! limited channel taken by an ordinary claim would show in the plain
//! count, and in the check that every attempt of a limited job came from
//! a limited claim.
//!
//! The rate is checked on the claims' times, which are what mq counts: a
//! job starts a little after its claim, by a delay that varies, so a
//! window of the starts the jobs recorded can hold a few more than the
//! rate (the report shows it, for comparison).
//!
//! A fault outside the limiter would fail the run too: a live worker whose
//! keep-alive comes more than two thirds of the lease late (1.3 s here)
//! runs on while mq counts its slot free, another claim may take the slot,
//! and the late keep-alive renews the lapsed lease all the same (it asks
//! for a running job, not a current lease), so for a while the channel runs
//! one more than its limit, by the jobs' record and by mq's own count.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use mq::Uuid;
use mq::admin::ChannelLimit;
use sqlx::{Connection, PgPool};
use tokio::time::MissedTickBehavior;

use super::{Ctx, audit_checks, restart_checks};
use crate::client::{Client, Driver};
use crate::db::ScenarioDb;
use crate::fleet::{Fleet, WorkerSpec};
use crate::report::{Report, count, secs};
use crate::task::{
    LIMITED_CHANNEL, PER_ARGS_CHANNEL, Task, UNLIMITED_CHANNEL, builder, now_epoch, work_ms,
};

/// What the scenario records besides the workers' own tables: which
/// channel and kind each spawned job is of, and every limited claim (see
/// the module's documentation).
const LIMITS_TABLES: &str = r#"
CREATE TABLE rel_jobs (
    job_id       uuid PRIMARY KEY,
    channel_name text NOT NULL,
    channel_args text NOT NULL,
    kind         text NOT NULL
);

CREATE TABLE rel_limit_claims (
    job_id       uuid NOT NULL,
    lease_token  int NOT NULL,
    channel_name text NOT NULL,
    channel_args text NOT NULL,
    claimed_at   timestamptz NOT NULL
);
CREATE INDEX ON rel_limit_claims (job_id);
CREATE FUNCTION rel_limit_claimed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rel_limit_claims (job_id, lease_token, channel_name, channel_args, claimed_at)
    VALUES (NEW.job_id, NEW.lease_token, NEW.channel_name, NEW.channel_args, NEW.claimed_at);
    RETURN NULL;
END
$$;
CREATE TRIGGER rel_limit_claimed AFTER INSERT ON mq_limit_claims
    FOR EACH ROW EXECUTE FUNCTION rel_limit_claimed();
"#;

/// One sample: per limited channel and key (its argument with a limit per
/// argument, else `''`), the running jobs as mq's limited claim counts
/// them, the running rows with a current lease, and every running row.
/// One statement, so that all three see one snapshot and one `now()`.
const SAMPLE: &str = "
SELECT j.channel_name, CASE WHEN l.per_args THEN j.channel_args ELSE '' END,
       count(*) FILTER (WHERE j.limit_slot)::bigint,
       count(*) FILTER (WHERE j.run_at > now())::bigint,
       count(*)::bigint
FROM mq_jobs j
JOIN mq_channel_limits l USING (channel_name)
WHERE j.state = 'running'
GROUP BY 1, 2";

/// Every attempt of a limited job: its channel and key, when it started
/// and ended (µs since the epoch), and how it ended: 0 with its side
/// effect, 1 cut short by the kill of its worker ($1 incarnations, $2
/// times), 2 otherwise (it failed; it ends at the job's next start, or
/// now, which can only count it too long).
const ATTEMPTS: &str = "
SELECT rj.channel_name,
       CASE WHEN l.per_args THEN rj.channel_args ELSE '' END,
       (extract(epoch FROM s.at) * 1000000)::bigint,
       (extract(epoch FROM coalesce(e.at, to_timestamp(k.at), n.at, clock_timestamp()))
        * 1000000)::bigint,
       CASE WHEN e.at IS NOT NULL THEN 0 WHEN k.at IS NOT NULL THEN 1 ELSE 2 END
FROM rel_started s
JOIN rel_jobs rj USING (job_id)
JOIN mq_channel_limits l USING (channel_name)
CROSS JOIN LATERAL (SELECT min(n.at) AS at FROM rel_started n
                    WHERE n.job_id = s.job_id AND n.at > s.at) n
CROSS JOIN LATERAL (SELECT min(e.at) AS at FROM rel_effects e
                    WHERE e.job_id = s.job_id AND e.incarnation = s.incarnation
                      AND e.at >= s.at AND (n.at IS NULL OR e.at < n.at)) e
LEFT JOIN unnest($1::int[], $2::float8[]) AS k(incarnation, at) ON k.incarnation = s.incarnation";

/// Every limited claim: its channel and key, and its time (µs since the
/// epoch).
const CLAIMS: &str = "
SELECT c.channel_name, CASE WHEN l.per_args THEN c.channel_args ELSE '' END,
       (extract(epoch FROM c.claimed_at) * 1000000)::bigint
FROM rel_limit_claims c
JOIN mq_channel_limits l USING (channel_name)";

/// Attempts of limited jobs beyond the limited claims of the job: each
/// attempt follows a claim, so any would have come from an ordinary
/// claim, which must pass limited channels over.
const UNCLAIMED_ATTEMPTS: &str = "
SELECT coalesce(sum(greatest(0, a.n - coalesce(c.n, 0))), 0)::bigint
FROM (SELECT job_id, count(*) AS n FROM rel_started JOIN rel_jobs USING (job_id)
      WHERE kind <> 'unlimited' GROUP BY job_id) a
LEFT JOIN (SELECT job_id, count(*) AS n FROM rel_limit_claims GROUP BY job_id) c USING (job_id)";

/// Per limited channel and kind of job: how many jobs started, and their
/// first and last start (seconds since the epoch).
const PACE: &str = "
SELECT rj.channel_name, rj.kind, count(*),
       extract(epoch FROM min(f.first))::float8, extract(epoch FROM max(f.first))::float8
FROM (SELECT job_id, min(at) AS first FROM rel_started GROUP BY job_id) f
JOIN rel_jobs rj USING (job_id)
WHERE rj.kind <> 'unlimited'
GROUP BY 1, 2";

/// Side effects of unlimited jobs written from $1 to $2 (seconds since the
/// epoch).
const UNLIMITED_DONE: &str = "
SELECT count(*)
FROM rel_effects e JOIN rel_jobs rj USING (job_id)
WHERE rj.kind = 'unlimited' AND e.at >= to_timestamp($1) AND e.at < to_timestamp($2)";

/// The rate period of both limits. A second: windows short enough that
/// the short variant crosses many, and as long as the runners' poll
/// interval, which is when a runner looks again at a channel whose window
/// was full.
const RATE_PERIOD: Duration = Duration::from_secs(1);

/// How often the sampler counts the running jobs: many samples per job
/// (they last 200 ms and more while the concurrency binds), few enough
/// that the sampler stays a small part of the load.
const SAMPLE_EVERY: Duration = Duration::from_millis(25);

/// The unlimited channel's backlog is topped up, this many jobs at a
/// time, whenever fewer than this many are ready (looking every 50 ms):
/// it never runs dry, so its throughput is what the workers can do, in
/// every phase. A second's work or so: the table stays small.
const BACKLOG: i64 = 500;

/// The unlimited channel's throughput while the limited channels drain
/// must be at least this share of its throughput alone (the mean of the
/// phases before and after). Its jobs do no work, so the machine's two
/// cores bound it, and the limited channels cost it only their claims
/// (tens a second against hundreds) and the slots their sleeping jobs take
/// (18 of 64): it kept 85 to 95 % on a 2-core machine. A limiter that
/// stalled ordinary claims (behind the limit row's lock, say) would fall
/// far below; 0.7 leaves room for the noise of a shared machine.
const MIN_UNLIMITED_SHARE: f64 = 0.7;

/// A limited channel with a backlog, beside the unlimited channel's, must
/// start its jobs at least at this share of the pace its limit allows
/// (its concurrency over the long jobs, its rate over the short ones):
/// the limit is a ceiling, and a channel held far below it by the other
/// channels' work is starved, not limited. Not higher: the kill takes
/// most of `limited`'s slots for the two seconds of a lease and the
/// second until a runner makes the jobs ready again, and when it lands in
/// the long jobs' phase of the short variant (about ten seconds) that
/// alone costs a quarter of their pace (11.8 of 25 starts/s in one run,
/// 20.0 in the next; a starved channel, as before limited claims came
/// first, made 2 to 3).
const MIN_LIMITED_PACE: f64 = 0.4;

/// A limited channel of the scenario.
#[derive(Debug, Clone, Copy)]
struct Limited {
    channel: &'static str,
    /// The arguments its jobs are spread over: one, `""`, for a limit over
    /// the channel; several for a limit per argument.
    args: &'static [&'static str],
    per_args: bool,
    concurrency: u32,
    /// Starts allowed in any window of [`RATE_PERIOD`].
    rate: u32,
    /// Jobs of 200–600 ms per argument, spawned first: the concurrency
    /// binds (at most concurrency / 0.4 s starts a second, below the
    /// rate).
    long: usize,
    /// Jobs of 0–50 ms per argument, spawned after: the rate binds (the
    /// concurrency alone would allow concurrency / 25 ms a second).
    short: usize,
}

impl Limited {
    fn limit(&self) -> mq::Result<ChannelLimit> {
        Ok(ChannelLimit::new(self.channel)
            .set_concurrency(self.concurrency)?
            .set_rate(self.rate, RATE_PERIOD)?
            .set_per_args(self.per_args))
    }

    /// The starts a second the concurrency allows on average while the
    /// long jobs run, over all its arguments.
    fn long_pace(&self) -> f64 {
        self.args.len() as f64 * f64::from(self.concurrency) / 0.4
    }

    /// The starts a second the rate allows, over all its arguments.
    fn rate_pace(&self) -> f64 {
        self.args.len() as f64 * f64::from(self.rate) / RATE_PERIOD.as_secs_f64()
    }

    /// How the report names its key for `args`.
    fn name(&self, args: &str) -> String {
        if args.is_empty() {
            format!("`{}`", self.channel)
        } else {
            format!("`{}` ({args})", self.channel)
        }
    }

    /// Its backlog, long jobs first, the arguments in turn.
    fn jobs(&self) -> Vec<Job> {
        let mut jobs = Vec::new();
        for (kind, per_arg) in [("long", self.long), ("short", self.short)] {
            for i in 0..per_arg {
                for args in self.args {
                    let seq = jobs.len() as i64;
                    let work = match kind {
                        "long" => 200 + work_ms(seq, 400),
                        _ => work_ms(seq, 50),
                    };
                    jobs.push(Job {
                        channel: self.channel,
                        args: (*args).to_owned(),
                        kind,
                        task: Task::new(i as i64, work),
                    });
                }
            }
        }
        jobs
    }
}

/// A job to spawn.
struct Job {
    channel: &'static str,
    args: String,
    /// `long`, `short` or `unlimited`.
    kind: &'static str,
    task: Task,
}

/// Spawns `jobs` in batches of 1,000, recording each in `rel_jobs` first
/// (so that the record is there whenever the job runs); returns their
/// ids.
async fn spawn(pool: &PgPool, client: &Client, jobs: &[Job]) -> Result<Vec<Uuid>> {
    let mut ids = Vec::with_capacity(jobs.len());
    for batch in jobs.chunks(1000) {
        let builders = batch
            .iter()
            .map(|job| builder(job.channel, &job.args, false, &job.task))
            .collect::<mq::Result<Vec<_>>>()?;
        let job_ids: Vec<Uuid> = builders.iter().map(|b| b.id()).collect();
        let channels: Vec<&str> = batch.iter().map(|job| job.channel).collect();
        let args: Vec<&str> = batch.iter().map(|job| job.args.as_str()).collect();
        let kinds: Vec<&str> = batch.iter().map(|job| job.kind).collect();
        sqlx::query(
            "INSERT INTO rel_jobs (job_id, channel_name, channel_args, kind)
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[])",
        )
        .bind(&job_ids)
        .bind(&channels)
        .bind(&args)
        .bind(&kinds)
        .execute(pool)
        .await?;
        ids.extend(client.spawn_many(&builders).await?);
    }
    Ok(ids)
}

/// Keeps at least [`BACKLOG`] unlimited jobs ready until `stop`; returns
/// the ids of every job it spawned.
async fn keep_backlog(pool: PgPool, client: Client, stop: Arc<AtomicBool>) -> Result<Vec<Uuid>> {
    let mut ids = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let ready: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM mq_jobs WHERE state = 'ready' AND channel_name = $1",
        )
        .bind(UNLIMITED_CHANNEL)
        .fetch_one(&pool)
        .await?;
        if ready >= BACKLOG {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let jobs: Vec<Job> = (0..BACKLOG as usize)
            .map(|i| Job {
                channel: UNLIMITED_CHANNEL,
                args: String::new(),
                kind: "unlimited",
                task: Task::new((ids.len() + i) as i64, 0),
            })
            .collect();
        ids.extend(spawn(&pool, &client, &jobs).await?);
    }
    Ok(ids)
}

/// A limited channel's key: the channel, and the argument with a limit
/// per argument (else `""`).
type Key = (String, String);

/// The most one key showed over the samples.
#[derive(Debug, Clone, Copy, Default)]
struct KeySamples {
    /// Running as mq's limited claim counts them.
    mq: i64,
    /// Running rows with a current lease.
    current: i64,
    /// Every running row.
    all_rows: i64,
}

/// One look at the limited channels: when (seconds since the epoch), and
/// per key, the counts of [`SAMPLE`].
#[derive(Debug, Clone)]
struct Sample {
    at: f64,
    rows: Vec<(String, String, i64, i64, i64)>,
}

/// What the sampler saw.
#[derive(Debug, Default)]
struct Sampled {
    samples: Vec<Sample>,
    /// The longest time between two samples, in seconds.
    longest_gap: f64,
}

impl Sampled {
    /// The most `key` showed.
    fn most(&self, key: &Key) -> KeySamples {
        let mut most = KeySamples::default();
        for (_, _, mq, current, all_rows) in self
            .samples
            .iter()
            .flat_map(|s| &s.rows)
            .filter(|(c, k, ..)| *c == key.0 && *k == key.1)
        {
            most.mq = most.mq.max(*mq);
            most.current = most.current.max(*current);
            most.all_rows = most.all_rows.max(*all_rows);
        }
        most
    }

    /// The most running at once over all of `channel`'s keys, as mq
    /// counts them.
    fn most_over(&self, channel: &str) -> i64 {
        self.samples
            .iter()
            .map(|s| {
                s.rows
                    .iter()
                    .filter(|(c, ..)| c == channel)
                    .map(|&(_, _, mq, ..)| mq)
                    .sum::<i64>()
            })
            .max()
            .unwrap_or(0)
    }

    /// The share of the samples from `from` to `to` (seconds since the
    /// epoch) in which `key` ran `limit` as mq counts them; `None` without
    /// samples then.
    fn at_limit(&self, key: &Key, limit: i64, from: f64, to: f64) -> Option<f64> {
        let within: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.at >= from && s.at <= to)
            .collect();
        let at_limit = within
            .iter()
            .filter(|s| {
                s.rows
                    .iter()
                    .any(|(c, k, mq, ..)| *c == key.0 && *k == key.1 && *mq >= limit)
            })
            .count();
        (!within.is_empty()).then(|| at_limit as f64 / within.len() as f64)
    }
}

/// Samples the running counts (see [`SAMPLE`]) every [`SAMPLE_EVERY`],
/// on a connection of its own, until `stop`.
async fn sample(url: String, stop: Arc<AtomicBool>) -> Result<Sampled> {
    let mut conn = sqlx::PgConnection::connect(&url).await?;
    let mut ticks = tokio::time::interval(SAMPLE_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut sampled = Sampled::default();
    let mut last: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        ticks.tick().await;
        let rows = sqlx::query_as(SAMPLE).fetch_all(&mut conn).await?;
        let now = Instant::now();
        if let Some(last) = last {
            sampled.longest_gap = sampled
                .longest_gap
                .max(now.duration_since(last).as_secs_f64());
        }
        last = Some(now);
        sampled.samples.push(Sample {
            at: now_epoch(),
            rows,
        });
    }
    Ok(sampled)
}

/// The most of `times` (sorted, µs) in any window of `period_us`, as mq's
/// rate counts them: a claim at `t` counts the claims after `t - period`,
/// so a window is half-open.
fn most_in_window(times: &[i64], period_us: i64) -> usize {
    let mut most = 0;
    let mut first = 0;
    for (i, &t) in times.iter().enumerate() {
        while times[first] <= t - period_us {
            first += 1;
        }
        most = most.max(i + 1 - first);
    }
    most
}

/// How many of `intervals` (start, end) were open at once, after each
/// start and end in time order: an interval that ends when another starts
/// is not counted with it.
fn levels(intervals: &[(i64, i64)]) -> Vec<(i64, usize)> {
    let mut events: Vec<(i64, i32)> = intervals
        .iter()
        .flat_map(|&(start, end)| [(start, 1), (end, -1)])
        .collect();
    events.sort_unstable();
    let mut level = 0i64;
    events
        .into_iter()
        .map(|(at, step)| {
            level += i64::from(step);
            (at, level.max(0) as usize)
        })
        .collect()
}

/// What the jobs' own record says about one key.
#[derive(Debug, Clone, Default)]
struct KeyRecord {
    /// The attempts' (start, end), µs since the epoch.
    attempts: Vec<(i64, i64)>,
    /// Attempts that ended neither with their side effect nor by the kill.
    failed: usize,
    /// Its claims' times, sorted.
    claims: Vec<i64>,
}

impl KeyRecord {
    fn most_at_once(&self) -> usize {
        levels(&self.attempts)
            .into_iter()
            .map(|(_, level)| level)
            .max()
            .unwrap_or(0)
    }

    /// The most claims in any rate window.
    fn most_claims(&self) -> usize {
        most_in_window(&self.claims, RATE_PERIOD.as_micros() as i64)
    }

    /// The most starts, as the jobs recorded them, in any rate window.
    fn most_starts(&self) -> usize {
        let mut starts: Vec<i64> = self.attempts.iter().map(|&(start, _)| start).collect();
        starts.sort_unstable();
        most_in_window(&starts, RATE_PERIOD.as_micros() as i64)
    }
}

/// The jobs' own record, per key, and the claims.
async fn records(db: &ScenarioDb, fleet: &Fleet) -> Result<BTreeMap<Key, KeyRecord>> {
    let incarnations: Vec<i32> = fleet.kills.iter().map(|k| k.incarnation).collect();
    let times: Vec<f64> = fleet.kills.iter().map(|k| k.at).collect();
    let attempts: Vec<(String, String, i64, i64, i32)> = sqlx::query_as(ATTEMPTS)
        .bind(&incarnations)
        .bind(&times)
        .fetch_all(&db.pool)
        .await?;
    let claims: Vec<(String, String, i64)> = sqlx::query_as(CLAIMS).fetch_all(&db.pool).await?;
    let mut records: BTreeMap<Key, KeyRecord> = BTreeMap::new();
    for (channel, key, start, end, ended) in attempts {
        let record = records.entry((channel, key)).or_default();
        record.attempts.push((start, end));
        record.failed += usize::from(ended == 2);
    }
    for (channel, key, at) in claims {
        records.entry((channel, key)).or_default().claims.push(at);
    }
    for record in records.values_mut() {
        record.claims.sort_unstable();
    }
    Ok(records)
}

/// The worker running the most jobs of `channel` now, by slot, and how
/// many it runs.
async fn busiest(db: &ScenarioDb, fleet: &Fleet, channel: &str) -> Result<Option<(usize, i64)>> {
    let rows: Vec<(i32, i64)> = sqlx::query_as(
        "SELECT s.incarnation, count(*)
         FROM rel_started s
         JOIN mq_jobs j ON j.id = s.job_id AND j.attempt = s.attempt
         WHERE j.state = 'running' AND j.channel_name = $1 AND j.run_at > now()
         GROUP BY 1 ORDER BY 2 DESC, 1",
    )
    .bind(channel)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .find_map(|(incarnation, n)| fleet.slot_of(incarnation).map(|slot| (slot, n))))
}

/// The jobs of `channel` that the dead worker `incarnation` was running,
/// and when the last of their leases lapses (seconds since the epoch).
async fn left_running(
    db: &ScenarioDb,
    incarnation: i32,
    channel: &str,
) -> Result<(i64, Option<f64>)> {
    Ok(sqlx::query_as(
        "SELECT count(*), extract(epoch FROM max(j.run_at))::float8
         FROM rel_started s
         JOIN mq_jobs j ON j.id = s.job_id AND j.attempt = s.attempt
         WHERE s.incarnation = $1 AND j.state = 'running' AND j.channel_name = $2",
    )
    .bind(incarnation)
    .bind(channel)
    .fetch_one(&db.pool)
    .await?)
}

/// Unlimited jobs completed a second from `from` to `to` (seconds since
/// the epoch).
async fn unlimited_pace(db: &ScenarioDb, from: f64, to: f64) -> Result<f64> {
    let done: i64 = sqlx::query_scalar(UNLIMITED_DONE)
        .bind(from)
        .bind(to)
        .fetch_one(&db.pool)
        .await?;
    Ok(done as f64 / (to - from).max(1e-3))
}

/// Runs the scenario.
pub async fn run(ctx: &Ctx) -> Result<Report> {
    let workers = 4;
    let lease = Duration::from_secs(2);
    let poll = Duration::from_secs(1);
    // The whole channel: 10 at once, 40 starts a second. Its long jobs
    // start at most 25 a second (10 / 0.4 s), so the concurrency binds and
    // the rate does not; its short ones could start 400 a second, so the
    // rate binds, and the concurrency again whenever a window reopens
    // (10 claimed at once). Per argument: 2 at once and 8 a second for
    // each of 4 arguments, the same shape at a fifth of the scale, so that
    // the channel as a whole runs 8 at once, four times what one argument
    // may: the limits are kept apart, not shared.
    let channels = [
        Limited {
            channel: LIMITED_CHANNEL,
            args: &[""],
            per_args: false,
            concurrency: 10,
            rate: 40,
            long: ctx.pick(200, 2_000),
            short: ctx.pick(240, 3_000),
        },
        Limited {
            channel: PER_ARGS_CHANNEL,
            args: &["a", "b", "c", "d"],
            per_args: true,
            concurrency: 2,
            rate: 8,
            long: ctx.pick(32, 400),
            short: ctx.pick(48, 600),
        },
    ];
    let whole = channels[0];
    // Long enough for a throughput to mean something (thousands of jobs);
    // the short variant keeps the whole scenario to about a minute.
    let alone = ctx.pick(Duration::from_secs(6), Duration::from_secs(30));
    // Well inside the whole channel's long jobs (at most 25 start a
    // second, so 200 last 8 s at least), leaving room for the lease to
    // lapse and the slots to come back before its short jobs begin.
    let kill_after = ctx.pick(Duration::from_secs(4), Duration::from_secs(30));
    // About four times what the drains take (15 s and 170 s).
    let drain_timeout = ctx.pick(Duration::from_secs(60), Duration::from_secs(600));
    let mut report = Report::new(
        super::Scenario::Limits.title(),
        format!(
            "{workers} worker processes (sqlx and tokio-postgres alternately; lease {}, poll \
             interval {}, concurrency 8..16) take jobs from three channels. `{}` is limited to {} \
             running at once and {} starts in any {} window; `{}` to {} running and {} starts per \
             window for each of its {} arguments apart (per_args); the limits are set before the \
             workers start. Each limited channel gets a backlog of jobs of 200–600 ms ({} and {} \
             per argument), where the concurrency binds, then of jobs of 0–50 ms ({} and {}), \
             where the rate binds. `{}` runs jobs that do no work, its backlog kept at {} or more: \
             alone for {}, then while the limited channels drain, then alone again for {}. {} \
             into the drain the harness kills, with SIGKILL, the worker running the most jobs of \
             `{}`, and starts another. How many jobs ran at once is counted from the jobs' own \
             starts and side effects (exact); every {} a sampler on its own connection counts the \
             running jobs as mq's limited claim does; a trigger on `mq_limit_claims` records \
             every limited claim with the time its rate window counts.",
            secs(lease),
            secs(poll),
            whole.channel,
            whole.concurrency,
            whole.rate,
            secs(RATE_PERIOD),
            channels[1].channel,
            channels[1].concurrency,
            channels[1].rate,
            channels[1].args.len(),
            count(whole.long as i64),
            count(channels[1].long as i64),
            count(whole.short as i64),
            count(channels[1].short as i64),
            UNLIMITED_CHANNEL,
            count(BACKLOG),
            secs(alone),
            secs(alone),
            secs(kill_after),
            whole.channel,
            secs(SAMPLE_EVERY),
        ),
    );
    let db = ScenarioDb::create(true).await?;
    sqlx::raw_sql(LIMITS_TABLES).execute(&db.pool).await?;
    for channel in &channels {
        mq::admin::set_limit(&db.pool, &channel.limit()?).await?;
    }
    let mut fleet = Fleet::new(db.url(), &ctx.log_dir);
    fleet
        .start_alternating(workers, WorkerSpec::new(Driver::Sqlx, lease))
        .await?;
    let [sqlx_client, tokio_postgres_client] =
        Client::both(db.url(), 4, Duration::from_secs(30)).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampling = tokio::spawn(sample(db.url().to_owned(), stop.clone()));
    let topping = tokio::spawn(keep_backlog(db.pool.clone(), sqlx_client, stop.clone()));

    // The unlimited channel alone (its first second is its ramp-up).
    let alone_from = now_epoch() + 1.0;
    tokio::time::sleep(alone).await;
    let drain_from = now_epoch();
    let jobs: Vec<Job> = channels.iter().flat_map(Limited::jobs).collect();
    let limited_ids = spawn(&db.pool, &tokio_postgres_client, &jobs).await?;
    let drain_started = Instant::now();

    tokio::time::sleep_until((drain_started + kill_after).into()).await;
    let slot = busiest(&db, &fleet, whole.channel)
        .await?
        .map_or(0, |(slot, _)| slot);
    let kill = fleet.kill(slot).await?;
    let (held, lapsed_at) = left_running(&db, kill.incarnation, whole.channel).await?;
    fleet.respawn(slot).await?;

    let drained = db.wait_for(&limited_ids, drain_timeout).await?;
    let drain_to = now_epoch();
    tokio::time::sleep(alone).await;
    let after_to = now_epoch();
    stop.store(true, Ordering::Relaxed);
    let unlimited_ids = topping.await??;
    let sampled = sampling.await??;
    let mut all_ids = limited_ids.clone();
    all_ids.extend(&unlimited_ids);
    let finished = db.wait_for(&all_ids, Duration::from_secs(120)).await?;
    fleet.stop_all().await?;

    let records = records(&db, &fleet).await?;
    let unclaimed: i64 = sqlx::query_scalar(UNCLAIMED_ATTEMPTS)
        .fetch_one(&db.pool)
        .await?;
    let paces: Vec<(String, String, i64, f64, f64)> =
        sqlx::query_as(PACE).fetch_all(&db.pool).await?;
    let pace_of = |channel: &str, kind: &str| {
        paces
            .iter()
            .find(|(c, k, ..)| c == channel && k == kind)
            .map(|&(_, _, jobs, first, last)| Pace { jobs, first, last })
    };
    let before = unlimited_pace(&db, alone_from, drain_from).await?;
    let during = unlimited_pace(&db, drain_from, drain_to).await?;
    let after = unlimited_pace(&db, drain_to, after_to).await?;

    // The table: one row per key.
    let header = [
        "channel (argument)",
        "limit",
        "most at once (jobs' record)",
        "most at once (sampled: mq / current lease / all rows)",
        "samples at the concurrency, over the long jobs",
        "most claims in a window",
        "most starts in a window (jobs' record)",
    ];
    let mut rows = Vec::new();
    for channel in &channels {
        let long = pace_of(channel.channel, "long");
        for args in channel.args {
            let key = (channel.channel.to_owned(), (*args).to_owned());
            let record = records.get(&key).cloned().unwrap_or_default();
            let most = sampled.most(&key);
            let at_limit = long.and_then(|long| {
                sampled.at_limit(&key, channel.concurrency.into(), long.first, long.last)
            });
            rows.push(vec![
                channel.name(args),
                format!(
                    "{} at once, {} / {}",
                    channel.concurrency,
                    channel.rate,
                    secs(RATE_PERIOD)
                ),
                count(record.most_at_once() as i64),
                format!("{} / {} / {}", most.mq, most.current, most.all_rows),
                at_limit.map_or("—".into(), |share| format!("{:.0} %", share * 100.0)),
                count(record.most_claims() as i64),
                count(record.most_starts() as i64),
            ]);
        }
    }
    report.series = Some((header.iter().map(|h| (*h).to_owned()).collect(), rows));

    report.fact(
        "samples, and the longest gap between two",
        format!(
            "{}; {:.3} s",
            count(sampled.samples.len() as i64),
            sampled.longest_gap
        ),
    );
    report.fact(
        "limited claims recorded",
        count(records.values().map(|r| r.claims.len() as i64).sum::<i64>()),
    );
    let mut slow = Vec::new();
    for channel in &channels {
        let long = pace_of(channel.channel, "long").and_then(Pace::per_sec);
        let short = pace_of(channel.channel, "short").and_then(Pace::per_sec);
        report.fact(
            format!(
                "`{}`: starts/s over its long jobs (its concurrency allows {:.0}) / its short jobs (its rate allows {:.0})",
                channel.channel,
                channel.long_pace(),
                channel.rate_pace()
            ),
            format!("{} / {}", show_pace(long), show_pace(short)),
        );
        for (kind, pace, allowed) in [
            ("long", long, channel.long_pace()),
            ("short", short, channel.rate_pace()),
        ] {
            if pace.is_none_or(|pace| pace < MIN_LIMITED_PACE * allowed) {
                slow.push(format!(
                    "{} {kind} jobs: {} of {allowed:.0}",
                    channel.channel,
                    show_pace(pace)
                ));
            }
        }
    }
    let per_args = channels[1];
    let per_args_whole = {
        let intervals: Vec<(i64, i64)> = records
            .iter()
            .filter(|((c, _), _)| c == per_args.channel)
            .flat_map(|(_, r)| r.attempts.iter().copied())
            .collect();
        levels(&intervals)
            .into_iter()
            .map(|(_, l)| l)
            .max()
            .unwrap_or(0)
    };
    report.fact(
        format!(
            "`{}`: most running at once over all its arguments (jobs' record / sampled)",
            per_args.channel
        ),
        format!(
            "{} / {}",
            per_args_whole,
            sampled.most_over(per_args.channel)
        ),
    );
    report.fact(
        format!(
            "`{UNLIMITED_CHANNEL}`: jobs/s alone before / while the limited channels drained / alone after"
        ),
        format!("{before:.0} / {during:.0} / {after:.0}"),
    );
    let alone_pace = (before + after) / 2.0;
    let share = during / alone_pace.max(1e-9);
    report.fact(
        format!("`{UNLIMITED_CHANNEL}`: throughput while they drained, against alone"),
        format!("{:.0} %", share * 100.0),
    );
    report.fact(
        "limited channels drained in",
        drained.map_or(format!("not within {}", secs(drain_timeout)), secs),
    );

    // The kill.
    let kill_us = (kill.at * 1e6) as i64;
    let lapse_us = lapsed_at.map(|t| (t * 1e6) as i64);
    let whole_key = (whole.channel.to_owned(), String::new());
    let whole_record = records.get(&whole_key).cloned().unwrap_or_default();
    let full_again = levels(&whole_record.attempts)
        .into_iter()
        .find(|&(at, level)| at >= kill_us && level >= whole.concurrency as usize)
        .map(|(at, _)| at);
    report.fact(
        format!("jobs of `{}` the killed worker was running", whole.channel),
        count(held),
    );
    if let Some(lapse) = lapse_us {
        report.fact(
            "the last of their leases lapsed, after the kill",
            format!("{:.3} s", (lapse - kill_us) as f64 / 1e6),
        );
    }
    report.fact(
        format!(
            "kill to `{}` running {} at once again",
            whole.channel, whole.concurrency
        ),
        full_again.map_or("never".into(), |at| {
            format!("{:.3} s", (at - kill_us) as f64 / 1e6)
        }),
    );

    // The checks: the limits held...
    let mut over_exact = Vec::new();
    let mut over_sampled = Vec::new();
    let mut over_rate = Vec::new();
    let mut unreached = Vec::new();
    let mut failed_attempts = 0;
    for channel in &channels {
        for args in channel.args {
            let key = (channel.channel.to_owned(), (*args).to_owned());
            let name = channel.name(args);
            let record = records.get(&key).cloned().unwrap_or_default();
            let most = sampled.most(&key);
            let concurrency = channel.concurrency as usize;
            let rate = channel.rate as usize;
            failed_attempts += record.failed;
            let at_once = record.most_at_once();
            if at_once > concurrency {
                over_exact.push(format!("{name}: {at_once} of {concurrency}"));
            }
            if most.mq.max(most.current) > i64::from(channel.concurrency) {
                over_sampled.push(format!(
                    "{name}: {} as mq counts, {} with a current lease, of {concurrency}",
                    most.mq, most.current
                ));
            }
            let claims = record.most_claims();
            if claims > rate {
                over_rate.push(format!("{name}: {claims} of {rate}"));
            }
            // ...and bound: the concurrency reached in the jobs' record,
            // and within one in the samples (a sample may fall between a
            // completion and the claim that fills its slot); the rate
            // reached.
            if at_once < concurrency
                || most.mq + 1 < i64::from(channel.concurrency)
                || claims < rate
            {
                unreached.push(format!(
                    "{name}: {at_once} at once, {} sampled, {claims} claims in a window",
                    most.mq
                ));
            }
        }
    }
    report.check(
        over_exact.is_empty(),
        format!(
            "no more jobs of a limited channel (or argument) ran at once than its concurrency, by the jobs' own starts and side effects{}",
            show_list(&over_exact)
        ),
    );
    report.check(
        over_sampled.is_empty(),
        format!(
            "no sample counted more running than the concurrency, as mq counts them or as running rows with a current lease{}",
            show_list(&over_sampled)
        ),
    );
    report.check(
        over_rate.is_empty(),
        format!(
            "no window of {} held more limited claims than the rate{}",
            secs(RATE_PERIOD),
            show_list(&over_rate)
        ),
    );
    report.check(
        unreached.is_empty(),
        format!(
            "every limit bound: each channel (or argument) ran its concurrency at once, sampled within one, and its rate was reached in some window{}",
            show_list(&unreached)
        ),
    );
    report.check(
        slow.is_empty(),
        format!(
            "beside the unlimited channel's backlog, each limited channel started its jobs at {:.0} % or more of the pace its limit allows{}",
            MIN_LIMITED_PACE * 100.0,
            show_list(&slow)
        ),
    );
    report.check(
        per_args_whole > per_args.concurrency as usize,
        format!(
            "`{}`'s arguments were limited apart: {} of its jobs ran at once over all arguments, more than one argument's {}",
            per_args.channel, per_args_whole, per_args.concurrency
        ),
    );
    report.check(
        unclaimed == 0,
        format!(
            "every attempt of a limited job came from a limited claim ({} did not)",
            count(unclaimed)
        ),
    );
    report.check(
        failed_attempts == 0,
        format!(
            "every attempt of a limited job ended with its side effect or the kill ({} did not)",
            count(failed_attempts as i64)
        ),
    );
    report.check(
        drained.is_some(),
        format!(
            "the limited channels drained within {}",
            secs(drain_timeout)
        ),
    );
    report.check(
        share >= MIN_UNLIMITED_SHARE,
        format!(
            "the unlimited channel kept at least {:.0} % of its throughput alone while the limited channels drained ({:.0} %)",
            MIN_UNLIMITED_SHARE * 100.0,
            share * 100.0
        ),
    );

    // The kill: the slots its jobs held stayed taken until their leases
    // lapsed, then came back within a poll interval and 5 s more.
    report.check(
        held > 0,
        format!(
            "the kill cut short jobs of `{}` (else it proves nothing about their slots)",
            whole.channel
        ),
    );
    if let Some(lapse) = lapse_us {
        report.check(
            full_again.is_none_or(|at| at >= lapse),
            format!(
                "`{}` did not run {} at once again before the killed jobs' leases lapsed",
                whole.channel, whole.concurrency
            ),
        );
        let bound = poll + Duration::from_secs(5);
        report.check(
            full_again.is_some_and(|at| at - lapse <= bound.as_micros() as i64),
            format!(
                "`{}` ran {} at once again within a poll interval + 5 s of the lapse ({})",
                whole.channel,
                whole.concurrency,
                secs(bound)
            ),
        );
    }

    report.fact(
        "everything drained after the last spawn in",
        finished.map_or("not within 120 s".into(), secs),
    );
    let audit = db.audit(&all_ids).await?;
    audit_checks(&mut report, &audit);
    // Without the crash scenarios' bound on how soon a job cut short
    // starts again: it goes back to the end of its channel's queue, here
    // behind the rest of the limited backlog, drained at the limit's pace.
    let interrupted = db.interrupted(&fleet.kills).await?;
    restart_checks(&mut report, &interrupted);
    Ok(report)
}

/// How fast one kind of a channel's jobs started: how many, and the first
/// and last start (seconds since the epoch).
#[derive(Debug, Clone, Copy)]
struct Pace {
    jobs: i64,
    first: f64,
    last: f64,
}

impl Pace {
    /// Starts a second, from the first to the last.
    fn per_sec(self) -> Option<f64> {
        (self.last > self.first).then(|| (self.jobs - 1) as f64 / (self.last - self.first))
    }
}

/// A pace as the report shows it.
fn show_pace(pace: Option<f64>) -> String {
    pace.map_or("—".into(), |p| format!("{p:.1}"))
}

/// `": a, b"`, or nothing for an empty list.
fn show_list(items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!(": {}", items.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::{levels, most_in_window};

    #[test]
    fn a_rate_window_is_half_open() {
        // Claims at 0, 500 and 1,000 ms: the one at 1,000 no longer
        // counts the one at 0.
        assert_eq!(most_in_window(&[0, 500_000, 1_000_000], 1_000_000), 2);
        assert_eq!(most_in_window(&[0, 500_000, 999_999], 1_000_000), 3);
        assert_eq!(most_in_window(&[], 1_000_000), 0);
        assert_eq!(most_in_window(&[7, 7, 7], 1), 3);
    }

    #[test]
    fn an_interval_that_ends_as_another_starts_is_not_counted_with_it() {
        let most = |intervals: &[(i64, i64)]| {
            levels(intervals)
                .into_iter()
                .map(|(_, l)| l)
                .max()
                .unwrap_or(0)
        };
        assert_eq!(most(&[(0, 10), (10, 20)]), 1);
        assert_eq!(most(&[(0, 10), (9, 20), (5, 6)]), 2);
        assert_eq!(most(&[(0, 10), (1, 9), (2, 8)]), 3);
        assert_eq!(most(&[]), 0);
    }
}
