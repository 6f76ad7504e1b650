//! The channels: depth per state, pause, limit and its use, and the
//! actions on a whole channel. From the background count, as the overview.

use std::collections::BTreeSet;

use axum::extract::State;
use maud::{Markup, html};
use mq::JobState;
use mq::admin::LimitInfo;
use time::OffsetDateTime;

use crate::Shared;
use crate::context::Ctx;
use crate::format;
use crate::layout::{self, Nav};
use crate::pages::overview::{channel_counts, freshness};

/// The states given a column of their own; the rest are summed.
const COLUMNS: [JobState; 5] = [
    JobState::Ready,
    JobState::Scheduled,
    JobState::Running,
    JobState::Blocked,
    JobState::Failed,
];

/// `GET /channels`.
pub(crate) async fn page(State(app): State<Shared>, ctx: Ctx) -> Markup {
    let snapshot = app.cache.watch();
    let body = html! {
        h1 { "Channels" }
        @match snapshot.as_deref() {
            None => p.freshness { "Counting… the channels appear in a moment: reload the page." },
            Some(snapshot) => {
                (freshness(snapshot))
                @if snapshot.counted {
                    (table(&ctx, &snapshot.stats, &snapshot.limits))
                }
            }
        }
    };
    layout::page(&ctx, "Channels", Nav::Channels, body)
}

fn table(ctx: &Ctx, stats: &mq::admin::QueueStats, limits: &[LimitInfo]) -> Markup {
    let counts = channel_counts(stats);
    let names: BTreeSet<&str> = counts
        .keys()
        .copied()
        .chain(stats.paused.iter().map(|p| p.channel_name.as_str()))
        .chain(limits.iter().map(|l| l.limit.channel_name()))
        .collect();
    let now = OffsetDateTime::now_utc();
    let column = |state: JobState| JobState::ALL.iter().position(|s| *s == state);
    html! {
        @if names.is_empty() {
            p.muted { "No channel has jobs, a pause or a limit." }
        } @else {
            table {
                thead {
                    tr {
                        th { "Channel" }
                        @for state in COLUMNS { th.n { (state.as_str()) } }
                        th.n { "other" }
                        th { "Paused" }
                        th { "Limit" }
                        th { "" }
                    }
                }
                tbody {
                    @for name in &names {
                        @let row = counts.get(name).copied().unwrap_or_default();
                        @let shown: u64 = COLUMNS.iter().filter_map(|s| column(*s)).map(|i| row[i]).sum();
                        @let other = row.iter().sum::<u64>() - shown;
                        @let failed = column(JobState::Failed).map_or(0, |i| row[i]);
                        @let pause = stats.paused.iter().find(|p| p.channel_name == *name);
                        tr {
                            td { a href=(ctx.href(&format!("/jobs{}", format::query(&[("channel", name)])))) { (layout::channel_name(name)) } }
                            @for state in COLUMNS {
                                @let n = column(state).map_or(0, |i| row[i]);
                                @if n == 0 {
                                    td.n.zero { "·" }
                                } @else {
                                    td.n {
                                        a href=(ctx.href(&format!("/jobs{}", format::query(&[("state", state.as_str()), ("channel", name)])))) {
                                            (format::count(n))
                                        }
                                    }
                                }
                            }
                            @if other == 0 { td.n.zero { "·" } } @else { td.n { (format::count(other)) } }
                            td {
                                @if let Some(pause) = pause {
                                    span.badge.s-cancelled { "paused" }
                                    " " span.muted title=(format::timestamp(pause.paused_at)) { (format::relative(pause.paused_at, now)) }
                                }
                            }
                            td {
                                @if let Some(limit) = limits.iter().find(|l| l.limit.channel_name() == *name) {
                                    (limit_text(limit))
                                }
                            }
                            td.actions {
                                @if pause.is_some() {
                                    (layout::action(ctx, "/channels/resume", &[("channel", name)], "Resume", ""))
                                } @else {
                                    (layout::action(ctx, "/channels/pause", &[("channel", name)], "Pause", ""))
                                }
                                @if failed > 0 {
                                    (layout::action(ctx, "/channels/retry-failed", &[("channel", name)],
                                        &format!("Retry {failed} failed"), ""))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A limit and its use: `3 / 10 at once · 37 / 100 per 1 s · 12 waiting`.
fn limit_text(info: &LimitInfo) -> Markup {
    let limit = &info.limit;
    html! {
        @if let Some(concurrency) = limit.concurrency() {
            (info.running) " / " (concurrency) " at once"
        }
        @if let Some(rate) = limit.rate() {
            @if limit.concurrency().is_some() { " · " }
            (info.recent_starts) " / " (rate.count) " per " (format::duration(rate.period))
        }
        @if limit.per_args() { " · per argument" }
        " · " (format::count(info.waiting)) " waiting"
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use mq::admin::ChannelLimit;

    #[test]
    fn limits_read_as_use_against_limit() {
        let limit = ChannelLimit::new("api")
            .set_concurrency(10)
            .unwrap()
            .set_rate(100, Duration::from_secs(1))
            .unwrap()
            .set_per_args(true);
        let info = LimitInfo::new(limit, 3, 37, 12, OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            limit_text(&info).into_string(),
            "3 / 10 at once · 37 / 100 per 1 s · per argument · 12 waiting"
        );
    }
}
