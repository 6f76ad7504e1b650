//! The page around every page: head, style, navigation, flash message; and
//! the small pieces pages share (state badges, action forms).
//!
//! Nothing from the database ever goes through `PreEscaped`: maud escapes
//! every value spliced into a template, and only the constant style and
//! script below are written out as they are.

use maud::{DOCTYPE, Markup, PreEscaped, html};
use mq::JobState;

use crate::context::Ctx;
use crate::csrf;

/// Which tab of the navigation is the current page's.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Overview,
    Channels,
    Jobs,
}

/// A full page.
pub(crate) fn page(ctx: &Ctx, title: &str, nav: Nav, body: Markup) -> Markup {
    let tab = |tab: Nav, path: &str, label: &str| {
        html! {
            a href=(ctx.href(path)) class=[(tab == nav).then_some("current")] { (label) }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · mq" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a.brand href=(ctx.href("/")) { "mq" }
                    nav {
                        (tab(Nav::Overview, "/", "Overview"))
                        (tab(Nav::Channels, "/channels", "Channels"))
                        (tab(Nav::Jobs, "/jobs", "Jobs"))
                    }
                    @if ctx.csrf.is_none() {
                        span.readonly title="Actions are turned off" { "read-only" }
                    }
                }
                main {
                    @if let Some(flash) = &ctx.flash {
                        p class=(if flash.error { "flash error" } else { "flash" }) role="status" {
                            (flash.text)
                        }
                    }
                    (body)
                }
            }
        }
    }
}

/// A page without navigation, for errors (which may come before anything
/// about the request is known).
pub(crate) fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · mq" }
                style { (PreEscaped(STYLE)) }
            }
            body { main { (body) } }
        }
    }
}

/// A job state as a coloured badge.
pub(crate) fn state_badge(state: JobState) -> Markup {
    html! { span class={ "badge s-" (state.as_str()) } { (state.as_str()) } }
}

/// A channel name; the default channel's, which is empty, said so.
pub(crate) fn channel_name(name: &str) -> Markup {
    html! {
        @if name.is_empty() { em.muted { "(default)" } } @else { (name) }
    }
}

/// What each state means, in its colour.
pub(crate) fn legend() -> Markup {
    html! {
        details.legend {
            summary { "States" }
            dl {
                @for state in JobState::ALL {
                    dt { (state_badge(state)) }
                    dd { (state_meaning(state)) }
                }
            }
        }
    }
}

fn state_meaning(state: JobState) -> &'static str {
    match state {
        JobState::Uncommitted => "spawned with a commit interval, not committed yet",
        JobState::Blocked => "ordered, waiting for the jobs before it on its channel",
        JobState::Scheduled => "waiting for its time: a delay, or the backoff before a retry",
        JobState::Ready => "ready to run",
        JobState::Running => "held by a runner",
        JobState::Failed => "out of attempts; kept with its errors until retried or deleted",
        JobState::Completed => "completed, kept by a runner that keeps completed jobs",
        JobState::Cancelled => "cancelled before it finished",
        _ => "",
    }
}

/// A button that POSTs `fields` to a dashboard path, with the CSRF token;
/// nothing at all on a read-only dashboard.
pub(crate) fn action(
    ctx: &Ctx,
    path: &str,
    fields: &[(&str, &str)],
    label: &str,
    class: &str,
) -> Markup {
    let Some(token) = &ctx.csrf else {
        return html! {};
    };
    html! {
        form.action method="post" action=(ctx.href(path)) {
            input type="hidden" name=(csrf::FIELD) value=(token);
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" class=(class) { (label) }
        }
    }
}

/// Swaps the overview's numbers for each fragment the server pushes
/// (`live.rs`). A constant: no data is ever written into it. Without
/// JavaScript, or without EventSource, the page stays as rendered.
pub(crate) const LIVE_SCRIPT: &str = r#"
(function () {
  var live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  var source = new EventSource(live.getAttribute("data-src"));
  source.addEventListener("overview", function (event) {
    live.innerHTML = event.data;
  });
})();
"#;

const STYLE: &str = r#"
:root {
  --fg: #1f2430; --muted: #6b7280; --line: #e5e7eb; --bg: #f7f8fa; --card: #fff;
  --accent: #2f5bd3; --danger: #c0392b;
  --uncommitted: #9ca3af; --blocked: #8e44ad; --scheduled: #2f80ed; --ready: #0e9f9a;
  --running: #e8a317; --failed: #d64545; --completed: #2e9e5b; --cancelled: #5b6472;
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 1.5rem; padding: 0.6rem 1.5rem; background: #1f2430; }
header a { color: #cfd6e4; text-decoration: none; }
header a.brand { color: #fff; font-weight: 700; font-size: 1.1rem; }
header nav { display: flex; gap: 1rem; }
header nav a.current { color: #fff; border-bottom: 2px solid #fff; }
header .readonly { margin-left: auto; color: #1f2430; background: #cfd6e4; border-radius: 3px; padding: 0 0.4rem; font-size: 0.8rem; }
main { max-width: 1180px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { font-size: 1.4rem; margin: 0.6rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.8rem 0 0.6rem; }
a { color: var(--accent); }
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); }
th, td { text-align: left; padding: 0.35rem 0.6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 0.85rem; background: #fafbfc; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.zero { color: #c4c8cf; }
tr:hover td { background: #f5f8ff; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.85rem; }
pre { background: var(--card); border: 1px solid var(--line); padding: 0.6rem; overflow: auto; max-height: 32rem; white-space: pre-wrap; word-break: break-all; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 0 0.45rem; border-radius: 999px; color: #fff; font-size: 0.8rem; line-height: 1.5; }
.s-uncommitted { background: var(--uncommitted); } .s-blocked { background: var(--blocked); }
.s-scheduled { background: var(--scheduled); } .s-ready { background: var(--ready); }
.s-running { background: var(--running); } .s-failed { background: var(--failed); }
.s-completed { background: var(--completed); } .s-cancelled { background: var(--cancelled); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(120px, 1fr)); gap: 0.6rem; }
.card { display: block; background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--line); border-radius: 4px; padding: 0.5rem 0.7rem; text-decoration: none; color: var(--fg); }
.card .n { display: block; font-size: 1.4rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .label { color: var(--muted); font-size: 0.85rem; }
.card.c-uncommitted { border-left-color: var(--uncommitted); } .card.c-blocked { border-left-color: var(--blocked); }
.card.c-scheduled { border-left-color: var(--scheduled); } .card.c-ready { border-left-color: var(--ready); }
.card.c-running { border-left-color: var(--running); } .card.c-failed { border-left-color: var(--failed); }
.card.c-completed { border-left-color: var(--completed); } .card.c-cancelled { border-left-color: var(--cancelled); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; margin: 1rem 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
details.legend { margin: 0.8rem 0; color: var(--muted); }
details.legend dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 0.8rem; }
details.legend dd { margin: 0; }
.flash { background: #e8f5ee; border: 1px solid #b7e0c7; padding: 0.5rem 0.8rem; border-radius: 4px; }
.flash.error, .alert { background: #fdecea; border: 1px solid #f5c2bd; padding: 0.5rem 0.8rem; border-radius: 4px; }
.freshness { color: var(--muted); font-size: 0.85rem; }
form.action { display: inline; margin: 0 0.3rem 0 0; }
td.actions { white-space: nowrap; }
button { font: inherit; padding: 0.2rem 0.7rem; border: 1px solid #c9ced8; border-radius: 4px; background: #fff; cursor: pointer; }
button:hover { background: #f0f3fa; }
button.danger { color: var(--danger); border-color: #e7b3ad; }
form.filters { display: flex; flex-wrap: wrap; gap: 0.6rem; align-items: end; margin-bottom: 1rem; }
form.filters label { display: flex; flex-direction: column; font-size: 0.8rem; color: var(--muted); }
form.filters input, form.filters select { font: inherit; padding: 0.2rem 0.4rem; }
.pager { margin: 0.8rem 0; display: flex; gap: 1rem; }
.chart { background: var(--card); border: 1px solid var(--line); padding: 0.4rem; margin: 0; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .axis { stroke: #9aa1ad; stroke-width: 1; }
.chart .grid { stroke: #eceef2; stroke-width: 1; }
.chart text { font: 11px system-ui, sans-serif; fill: #6b7280; }
.chart .completed { fill: var(--completed); } .chart .retried { fill: var(--running); } .chart .failed { fill: var(--failed); }
.chart-legend { display: flex; gap: 1rem; font-size: 0.85rem; color: var(--muted); margin-top: 0.3rem; }
.chart-legend i { display: inline-block; width: 0.8rem; height: 0.8rem; margin-right: 0.3rem; vertical-align: -1px; border-radius: 2px; }
.meter { display: inline-block; width: 80px; height: 0.6rem; background: #eceef2; border-radius: 3px; vertical-align: middle; margin-right: 0.4rem; overflow: hidden; }
.meter span { display: block; height: 100%; background: var(--running); }
.stale td { color: var(--muted); }
"#;
