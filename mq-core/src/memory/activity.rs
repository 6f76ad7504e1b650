//! The in-memory backend's runner reports: runners by id, counts by
//! minute and channel name.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;
use uuid::Uuid;

use super::Store;
use crate::activity::{
    ActivityRecordParams, MinuteCount, RUNNER_PRUNE_AFTER, RunnerInfo, ThroughputListParams,
    minute_of,
};

/// What the backend keeps of runners' reports.
#[derive(Default)]
pub(super) struct Activity {
    runners: HashMap<Uuid, RunnerInfo>,
    counts: BTreeMap<(OffsetDateTime, String), MinuteCount>,
}

impl Store {
    pub(super) fn activity_record(
        &mut self,
        params: &ActivityRecordParams<'_>,
        now: OffsetDateTime,
    ) {
        let activity = &mut self.activity;
        if params.stopping {
            activity.runners.remove(&params.runner);
        } else {
            let runner = activity.runners.entry(params.runner).or_insert_with(|| {
                RunnerInfo::new(params.runner, params.name.to_owned(), now, now, 0, 0)
            });
            runner.name = params.name.to_owned();
            runner.seen_at = now;
            runner.running = params.running;
            runner.max_concurrency = params.max_concurrency;
        }
        for count in params.minutes {
            let minute = minute_of(count.minute);
            activity
                .counts
                .entry((minute, count.channel_name.clone()))
                .or_insert_with(|| MinuteCount::new(minute, count.channel_name.clone(), 0, 0, 0))
                .add(count);
        }
        let oldest = now - params.retention;
        activity.counts.retain(|(minute, _), _| *minute >= oldest);
        let unseen = now - RUNNER_PRUNE_AFTER;
        activity
            .runners
            .retain(|id, runner| *id == params.runner || runner.seen_at >= unseen);
    }

    pub(super) fn throughput_list(
        &self,
        params: &ThroughputListParams,
        now: OffsetDateTime,
    ) -> Vec<MinuteCount> {
        // A minute is listed if any of it falls after `now - since`.
        let from = now - params.since - time::Duration::minutes(1);
        self.activity
            .counts
            .values()
            .filter(|count| count.minute > from)
            .cloned()
            .collect()
    }

    pub(super) fn runner_list(&self) -> Vec<RunnerInfo> {
        let mut runners: Vec<RunnerInfo> = self.activity.runners.values().cloned().collect();
        runners.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        runners
    }
}
