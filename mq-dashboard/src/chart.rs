//! The chart of jobs finished per minute over the last hour: an SVG drawn
//! on the server, stacked bars (completed, retried, failed) with a time
//! axis labelled every ten minutes and a count axis at round numbers.

use std::fmt::Write;

use maud::{Markup, html};
use time::{Duration, OffsetDateTime};

use mq::admin::MinuteCount;

/// Minutes on the chart.
const MINUTES: usize = 60;
const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 230.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 34.0;

/// Jobs finished in one minute, over all channels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Minute {
    completed: u64,
    retried: u64,
    failed: u64,
}

impl Minute {
    fn total(self) -> u64 {
        self.completed + self.retried + self.failed
    }
}

/// The chart of the 60 minutes up to the one `now` is in, from per-minute
/// rows of any channels (rows outside that hour are left out).
pub(crate) fn throughput_chart(minutes: &[MinuteCount], now: OffsetDateTime) -> Markup {
    let last = floor_minute(now);
    let first = last - Duration::minutes(MINUTES as i64 - 1);
    let mut buckets = [Minute::default(); MINUTES];
    for row in minutes {
        let index = (floor_minute(row.minute) - first).whole_minutes();
        if let Some(bucket) = usize::try_from(index).ok().and_then(|i| buckets.get_mut(i)) {
            bucket.completed += row.completed;
            bucket.retried += row.retried;
            bucket.failed += row.failed;
        }
    }
    let (step, top) = scale(buckets.iter().map(|b| b.total()).max().unwrap_or(0));

    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / MINUTES as f64;
    let y = |count: u64| TOP + plot_h - plot_h * count as f64 / top as f64;
    let total: u64 = buckets.iter().map(|b| b.total()).sum();

    html! {
        figure.chart {
            svg viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img"
                aria-label="Jobs finished per minute over the last hour" {
                // Count axis: gridlines and labels at round numbers.
                @for tick in (0..=top).step_by(step as usize) {
                    line.grid x1=(LEFT) x2=(WIDTH - RIGHT) y1=(px(y(tick))) y2=(px(y(tick))) {}
                    text x=(LEFT - 6.0) y=(px(y(tick) + 4.0)) text-anchor="end" { (tick) }
                }
                // Bars, completed at the bottom, failed on top.
                @for (i, bucket) in buckets.iter().enumerate() {
                    @if bucket.total() > 0 {
                        @let at = first + Duration::minutes(i as i64);
                        @let x = LEFT + slot * i as f64 + 1.0;
                        g {
                            title {
                                (hh_mm(at)) ": " (bucket.completed) " completed, "
                                (bucket.retried) " retried, " (bucket.failed) " failed"
                            }
                            @for (class, low, high) in segments(*bucket) {
                                rect class={ "bar " (class) } x=(px(x)) width=(px(slot - 2.0))
                                    y=(px(y(high))) height=(px(y(low) - y(high))) {}
                            }
                        }
                    }
                }
                // Time axis: a tick every minute, a label every ten.
                line.axis x1=(LEFT) x2=(WIDTH - RIGHT) y1=(px(TOP + plot_h)) y2=(px(TOP + plot_h)) {}
                line.axis x1=(LEFT) x2=(LEFT) y1=(TOP) y2=(px(TOP + plot_h)) {}
                @for i in 0..MINUTES {
                    @let at = first + Duration::minutes(i as i64);
                    @let x = LEFT + slot * (i as f64 + 0.5);
                    // Not under the axis's own "UTC" label.
                    @if at.minute().is_multiple_of(10) && i >= 3 {
                        line.axis x1=(px(x)) x2=(px(x)) y1=(px(TOP + plot_h)) y2=(px(TOP + plot_h + 5.0)) {}
                        text x=(px(x)) y=(px(TOP + plot_h + 18.0)) text-anchor="middle" { (hh_mm(at)) }
                    }
                }
                text x=(LEFT - 6.0) y=(px(TOP + plot_h + 18.0)) text-anchor="end" { "UTC" }
                @if total == 0 {
                    text x=(px(LEFT + plot_w / 2.0)) y=(px(TOP + plot_h / 2.0)) text-anchor="middle" {
                        "No job finished in the last hour"
                    }
                }
            }
            figcaption.chart-legend {
                span { i.completed style="background: var(--completed)" {} "completed" }
                span { i.retried style="background: var(--running)" {} "failed, to be retried" }
                span { i.failed style="background: var(--failed)" {} "failed for good" }
                span { "Total: " (total) }
            }
        }
    }
}

/// The stacked segments of a minute's bar: class, from count, to count.
fn segments(minute: Minute) -> impl Iterator<Item = (&'static str, u64, u64)> {
    let a = minute.completed;
    let b = a + minute.retried;
    let c = b + minute.failed;
    [("completed", 0, a), ("retried", a, b), ("failed", b, c)]
        .into_iter()
        .filter(|(_, low, high)| high > low)
}

/// The count axis for a tallest bar of `max`: a round step (1, 2 or 5
/// times a power of ten) giving at most five intervals, and the top, a
/// multiple of it at or above `max`.
fn scale(max: u64) -> (u64, u64) {
    let max = max.max(1);
    let mut magnitude = 1u64;
    loop {
        for factor in [1, 2, 5] {
            let step = factor * magnitude;
            if max.div_ceil(step) <= 5 {
                return (step, max.div_ceil(step) * step);
            }
        }
        magnitude *= 10;
    }
}

fn floor_minute(at: OffsetDateTime) -> OffsetDateTime {
    at.to_offset(time::UtcOffset::UTC)
        .replace_second(0)
        .and_then(|at| at.replace_nanosecond(0))
        .unwrap_or(at)
}

fn hh_mm(at: OffsetDateTime) -> String {
    format!("{:02}:{:02}", at.hour(), at.minute())
}

/// A coordinate with one decimal, as the SVG gets it.
fn px(value: f64) -> String {
    let mut out = String::new();
    let _ = write!(out, "{value:.1}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(minute: OffsetDateTime, channel: &str, counts: (u64, u64, u64)) -> MinuteCount {
        MinuteCount::new(minute, channel.to_owned(), counts.0, counts.1, counts.2)
    }

    // 2026-11-30 14:05:56 UTC.
    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_796_047_556).unwrap()
    }

    #[test]
    fn minutes_of_all_channels_stack_in_one_bar() {
        let at = floor_minute(now()) - Duration::minutes(3); // 14:02
        let svg = throughput_chart(
            &[
                row(at, "emails", (5, 1, 0)),
                row(at, "images", (2, 0, 2)),
                row(floor_minute(now()), "emails", (1, 0, 0)),
            ],
            now(),
        )
        .into_string();
        assert!(svg.contains("<title>14:02: 7 completed, 1 retried, 2 failed</title>"));
        assert!(svg.contains("<title>14:05: 1 completed, 0 retried, 0 failed</title>"));
        // Three segments at 14:02, one at 14:05.
        assert_eq!(svg.matches("<rect class=\"bar ").count(), 4);
        assert!(svg.contains("Total: 11"));
        assert!(!svg.contains("No job finished"));
    }

    #[test]
    fn rows_outside_the_hour_are_left_out() {
        let svg = throughput_chart(
            &[
                row(now() - Duration::minutes(60), "old", (9, 0, 0)),
                row(now() + Duration::minutes(1), "future", (9, 0, 0)),
                row(now() - Duration::minutes(59), "oldest kept", (1, 0, 0)),
            ],
            now(),
        )
        .into_string();
        assert!(svg.contains("<title>13:06: 1 completed"));
        assert_eq!(svg.matches("<rect class=\"bar ").count(), 1);
        assert!(svg.contains("Total: 1"));
    }

    #[test]
    fn axes_are_labelled_with_minutes_and_round_counts() {
        let svg = throughput_chart(&[row(now(), "a", (9, 0, 0))], now()).into_string();
        // The hour from 13:06 to 14:05: labels every ten minutes.
        for label in ["13:10", "13:20", "13:30", "13:40", "13:50", "14:00"] {
            assert!(svg.contains(&format!(">{label}</text>")), "{label}");
        }
        assert!(!svg.contains(">13:05</text>"));
        // A tallest bar of 9 gives 0, 2, ..., 10.
        for tick in [">0</text>", ">2</text>", ">10</text>"] {
            assert!(svg.contains(tick), "{tick}");
        }
        assert!(!svg.contains(">12</text>"));
    }

    #[test]
    fn an_empty_hour_says_so() {
        let svg = throughput_chart(&[], now()).into_string();
        assert!(svg.contains("No job finished in the last hour"));
        assert_eq!(svg.matches("<rect").count(), 0);
        assert!(svg.contains(">14:00</text>"));
    }

    #[test]
    fn count_axes_are_round() {
        assert_eq!(scale(0), (1, 1));
        assert_eq!(scale(4), (1, 4));
        assert_eq!(scale(9), (2, 10));
        assert_eq!(scale(37), (10, 40));
        assert_eq!(scale(1234), (500, 1500));
    }
}
