//! The overview: jobs per state and channel, the oldest ready job, blocked
//! ordered channels, jobs finished per minute, and the runners; all from
//! the background count (`cache.rs`), so that it answers at once however
//! large the queue.

use std::collections::BTreeMap;

use axum::extract::State;
use maud::{Markup, PreEscaped, html};
use mq::JobState;
use time::OffsetDateTime;

use crate::Shared;
use crate::cache::Snapshot;
use crate::chart::throughput_chart;
use crate::context::Ctx;
use crate::format;
use crate::layout::{self, Nav};
use mq::admin::RunnerInfo;

/// A runner not seen for this long is shown as gone quiet.
const RUNNER_QUIET: time::Duration = time::Duration::minutes(1);

/// `GET /`.
pub(crate) async fn page(State(app): State<Shared>, ctx: Ctx) -> Markup {
    let snapshot = app.cache.watch();
    let body = html! {
        h1 { "Overview" }
        div #live data-src=(ctx.href("/live")) {
            (fragment(&ctx, snapshot.as_deref()))
        }
        (layout::legend())
        script { (PreEscaped(layout::LIVE_SCRIPT)) }
    };
    layout::page(&ctx, "Overview", Nav::Overview, body)
}

/// The overview's numbers: the page's body, and what live updates push.
pub(crate) fn fragment(ctx: &Ctx, snapshot: Option<&Snapshot>) -> Markup {
    let Some(snapshot) = snapshot else {
        return counting();
    };
    if !snapshot.counted {
        return freshness(snapshot);
    }
    let stats = &snapshot.stats;
    let channels = channel_counts(stats);
    let blocked: Vec<(&str, u64)> = stats
        .counts
        .iter()
        .filter(|row| row.state == JobState::Failed && row.ordered > 0)
        .map(|row| (row.channel_name.as_str(), row.ordered))
        .collect();
    let jobs_in = |state: JobState, channel: &str| {
        ctx.href(&format!(
            "/jobs{}",
            format::query(&[("state", state.as_str()), ("channel", channel)])
        ))
    };
    html! {
        (freshness(snapshot))
        section.cards {
            @for state in JobState::ALL {
                a class={ "card c-" (state.as_str()) } href=(jobs_in(state, "")) {
                    span.n { (format::count(stats.total(state))) }
                    span.label { (state.as_str()) }
                }
            }
        }
        dl.facts {
            dt { "Oldest ready job" }
            dd {
                @match stats.oldest_ready_age() {
                    Some(age) => { "waiting for " (format::duration(age)) }
                    None => span.muted { "no job is ready" },
                }
            }
            dt { "Blocked ordered channels" }
            dd {
                @if blocked.is_empty() {
                    span.muted { "none" }
                } @else {
                    (stats.blocked_ordered_channels()) ", held by failed jobs: "
                    @for (i, (channel, held)) in blocked.iter().enumerate() {
                        @if i > 0 { ", " }
                        a href=(jobs_in(JobState::Failed, channel)) { (layout::channel_name(channel)) }
                        " (" (held) ")"
                    }
                }
            }
            dt { "Paused channels" }
            dd {
                @if stats.paused.is_empty() {
                    span.muted { "none" }
                } @else {
                    @for (i, pause) in stats.paused.iter().enumerate() {
                        @if i > 0 { ", " }
                        (layout::channel_name(&pause.channel_name))
                    }
                }
            }
        }

        h2 { "Channels" }
        @if channels.is_empty() {
            p.muted { "No jobs." }
        } @else {
            table {
                thead {
                    tr {
                        th { "Channel" }
                        @for state in JobState::ALL { th.n { (state.as_str()) } }
                        th { "" }
                    }
                }
                tbody {
                    @for (channel, counts) in &channels {
                        tr {
                            td { a href=(ctx.href(&format!("/jobs{}", format::query(&[("channel", channel)])))) { (layout::channel_name(channel)) } }
                            @for (state, count) in JobState::ALL.iter().zip(counts) {
                                @if *count == 0 {
                                    td.n.zero { "·" }
                                } @else {
                                    td.n { a href=(jobs_in(*state, channel)) { (format::count(*count)) } }
                                }
                            }
                            td { @if stats.is_paused(channel) { span.badge.s-cancelled { "paused" } } }
                        }
                    }
                }
            }
        }

        h2 { "Jobs finished per minute, last hour" }
        (throughput_chart(&snapshot.throughput, snapshot.read_at_utc))

        h2 { "Runners" }
        (runner_table(&snapshot.runners, snapshot.read_at_utc))
    }
}

/// The placeholder before the first count.
fn counting() -> Markup {
    html! {
        p.freshness { "Counting… the numbers appear in a moment (reload the page if they do not)." }
    }
}

/// How old the numbers are, and whether the latest count failed.
pub(crate) fn freshness(snapshot: &Snapshot) -> Markup {
    html! {
        @if !snapshot.counted {
            p.freshness { "Nothing could be counted yet." }
        } @else {
            p.freshness {
                @let age = snapshot.read_at.elapsed();
                "Counts as of "
                @if age.as_secs() == 0 { "just now" } @else { (format::duration(age)) " ago" }
                " (counting took " (format::duration(snapshot.took)) ")."
            }
        }
        @if let Some(error) = &snapshot.error {
            p.alert { "The latest count failed: " (error) }
        }
    }
}

/// Jobs per channel name, one count per state of [`JobState::ALL`].
pub(crate) fn channel_counts(
    stats: &mq::admin::QueueStats,
) -> BTreeMap<&str, [u64; JobState::ALL.len()]> {
    let mut channels: BTreeMap<&str, [u64; JobState::ALL.len()]> = BTreeMap::new();
    for row in &stats.counts {
        if let Some(i) = JobState::ALL.iter().position(|state| *state == row.state) {
            channels.entry(&row.channel_name).or_default()[i] += row.count;
        }
    }
    channels
}

/// Runners, with what each runs against what it may.
fn runner_table(runners: &[RunnerInfo], now: OffsetDateTime) -> Markup {
    html! {
        @if runners.is_empty() {
            p.muted { "No runner has reported lately." }
        } @else {
            table {
                thead {
                    tr {
                        th { "Runner" } th { "Id" } th { "Started" } th { "Last seen" }
                        th.n { "Running" }
                    }
                }
                tbody {
                    @for runner in runners {
                        @let quiet = now - runner.seen_at > RUNNER_QUIET;
                        tr class=[quiet.then_some("stale")] {
                            td { (runner.name) }
                            td.mono { (runner.id) }
                            td title=(format::timestamp(runner.started_at)) { (format::relative(runner.started_at, now)) }
                            td title=(format::timestamp(runner.seen_at)) { (format::relative(runner.seen_at, now)) }
                            td.n {
                                span.meter {
                                    span style={ "width: " (percent(runner.running, runner.max_concurrency)) "%" } {}
                                }
                                (runner.running) " / " (runner.max_concurrency)
                            }
                        }
                    }
                }
            }
        }
    }
}

fn percent(part: u32, whole: u32) -> u32 {
    if whole == 0 {
        0
    } else {
        (u64::from(part.min(whole)) * 100 / u64::from(whole)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn runners_show_their_load_and_quiet_ones_stand_out() {
        let now = OffsetDateTime::from_unix_timestamp(1_796_047_556).unwrap();
        let runner = |name: &str, seen_secs_ago: i64, running| {
            RunnerInfo::new(
                Uuid::nil(),
                name.to_owned(),
                now - time::Duration::hours(2),
                now - time::Duration::seconds(seen_secs_ago),
                running,
                20,
            )
        };
        let html =
            runner_table(&[runner("web-1", 3, 5), runner("<b>old</b>", 600, 0)], now).into_string();
        assert!(html.contains("5 / 20"));
        assert!(html.contains("width: 25%"));
        assert!(html.contains("3 s ago"));
        assert_eq!(html.matches("class=\"stale\"").count(), 1);
        assert!(html.contains("&lt;b&gt;old&lt;/b&gt;"));
        assert!(runner_table(&[], now).into_string().contains("No runner"));
        assert_eq!(percent(30, 20), 100);
        assert_eq!(percent(1, 0), 0);
    }
}
