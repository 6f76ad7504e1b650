//! Producers: spawn jobs at a steady rate, one per call, and remember what
//! each call returned.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use mq::Uuid;
use tokio::time::MissedTickBehavior;

use crate::client::Client;
use crate::task::{Task, WORK_CHANNEL, builder, now_epoch, work_ms};

/// What the spawn calls returned.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Jobs whose spawn returned their id.
    pub acknowledged: Vec<Uuid>,
    /// Jobs whose spawn returned an error: their id, and when.
    pub failed: Vec<(Uuid, f64)>,
    /// The first few errors' text.
    pub sample_errors: Vec<String>,
    /// When each acknowledged spawn returned (seconds since the epoch).
    pub acknowledged_at: Vec<f64>,
}

impl Ledger {
    fn merge(&mut self, other: Ledger) {
        self.acknowledged.extend(other.acknowledged);
        self.failed.extend(other.failed);
        self.acknowledged_at.extend(other.acknowledged_at);
        for error in other.sample_errors {
            if self.sample_errors.len() < 3 {
                self.sample_errors.push(error);
            }
        }
    }
}

/// Steady load on the work channel.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Jobs a second, over all producers.
    pub rate: f64,
    /// For how long.
    pub duration: Duration,
    /// Each job works up to this long.
    pub max_work_ms: u64,
}

/// Spawns `load` through `clients`, two producer tasks per client; returns
/// when the time is up. A spawn that fails is recorded, not retried: the
/// caller of a real queue would see the same error.
pub async fn produce(clients: &[Client], load: Load) -> Result<Ledger> {
    let seq = Arc::new(AtomicI64::new(0));
    let producers = clients.len() * 2;
    let interval = Duration::from_secs_f64(producers as f64 / load.rate);
    let until = Instant::now() + load.duration;
    let tasks: Vec<_> = (0..producers)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            let seq = seq.clone();
            tokio::spawn(async move {
                let mut ledger = Ledger::default();
                let mut ticks = tokio::time::interval(interval);
                ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
                while Instant::now() < until {
                    ticks.tick().await;
                    let n = seq.fetch_add(1, Ordering::Relaxed);
                    let task = Task::new(n, work_ms(n, load.max_work_ms));
                    let builder = builder(WORK_CHANNEL, "", false, &task)?;
                    match client.spawn(&builder).await {
                        Ok(id) => {
                            ledger.acknowledged.push(id);
                            ledger.acknowledged_at.push(now_epoch());
                        }
                        Err(error) => {
                            ledger.failed.push((builder.id(), now_epoch()));
                            if ledger.sample_errors.len() < 3 {
                                ledger.sample_errors.push(mq::error_text(&error));
                            }
                        }
                    }
                }
                anyhow::Ok(ledger)
            })
        })
        .collect();
    let mut ledger = Ledger::default();
    for task in tasks {
        ledger.merge(task.await??);
    }
    Ok(ledger)
}

/// Spawns `n` jobs on the work channel in batches of 1,000; returns their
/// ids.
pub async fn spawn_batch(client: &Client, n: usize, max_work_ms: u64) -> Result<Vec<Uuid>> {
    let mut ids = Vec::with_capacity(n);
    for chunk_start in (0..n).step_by(1000) {
        let builders = (chunk_start..n.min(chunk_start + 1000))
            .map(|i| {
                let task = Task::new(i as i64, work_ms(i as i64, max_work_ms));
                builder(WORK_CHANNEL, "", false, &task)
            })
            .collect::<mq::Result<Vec<_>>>()?;
        ids.extend(client.spawn_many(&builders).await?);
    }
    Ok(ids)
}
