//! One job: what it is, where it stands, its payload shown as text, its
//! error history, its place among the ordered jobs of its channel, and
//! the actions that fit its state.

use axum::extract::{Path, State};
use maud::{Markup, html};
use mq::admin::{self, JobInfo, JobQuery, JobSummary};
use mq::{JobState, Uuid};
use time::OffsetDateTime;

use crate::Shared;
use crate::context::Ctx;
use crate::error::DashboardError;
use crate::format;
use crate::layout::{self, Nav};

/// How many jobs of a channel name are looked through for the job that
/// holds an ordered channel.
const HEAD_WINDOW: u32 = 200;

/// How many payload bytes are shown in hexadecimal.
const HEX_SHOWN: usize = 4096;

/// A job id from a path.
pub(crate) fn parse_id(id: &str) -> Result<Uuid, DashboardError> {
    id.parse()
        .map_err(|_| DashboardError::BadRequest(format!("{id:?} is not a job id (a UUID)")))
}

/// `GET /jobs/{id}`.
pub(crate) async fn page(
    State(app): State<Shared>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Markup, DashboardError> {
    let id = parse_id(&id)?;
    let job = admin::get(&*app.backend, id).await?.ok_or_else(|| {
        DashboardError::NotFound(format!(
            "no job {id}: it completed (and was not kept), was deleted, or never existed"
        ))
    })?;
    let position = if job.ordered && !is_finished(job.state) {
        Some(ordered_position(&app, &job).await?)
    } else {
        None
    };
    let now = OffsetDateTime::now_utc();
    let body = html! {
        h1 { "Job " (job.name) " " (layout::state_badge(job.state)) }
        p { (actions(&ctx, &job)) }
        dl.facts {
            dt { "Id" } dd.mono { (job.id) }
            dt { "Name" } dd { (job.name) }
            dt { "Channel" }
            dd {
                a href=(ctx.href(&format!("/jobs{}", format::query(&[("channel", &job.channel_name)])))) { (layout::channel_name(&job.channel_name)) }
                @if !job.channel_args.is_empty() { " with arguments " code { (job.channel_args) } }
            }
            dt { "State" } dd { (layout::state_badge(job.state)) }
            dt { "Attempt" }
            dd { (job.attempt) " of " (job.retries + 1) " (" (job.retries) " retries)" }
            dt { "Backoff" }
            dd {
                (format::duration(job.retry_backoff)) ", doubling"
                @if let Some(max) = job.retry_backoff_max { " up to " (format::duration(max)) }
                @if job.retry_jitter { ", with jitter" }
            }
            @if let Some(timeout) = job.timeout { dt { "Timeout" } dd { (format::duration(timeout)) } }
            @if job.priority != 0 { dt { "Priority" } dd { (job.priority) } }
            @if let Some(key) = &job.unique_key {
                dt { "Unique key" }
                dd {
                    code { (key) }
                    @if let Some(for_) = job.unique_for { " for " (format::duration(for_)) " after it completes" }
                }
            }
            dt { "Spawned" } dd { (format::timestamp(job.created_at)) " (" (format::relative(job.created_at, now)) ")" }
            dt { (run_at_label(job.state)) } dd { (format::timestamp(job.run_at)) " (" (format::relative(job.run_at, now)) ")" }
            @if let Some(deadline) = job.commit_deadline {
                dt { "Commit deadline" } dd { (format::timestamp(deadline)) " (" (format::relative(deadline, now)) ")" }
            }
            dt { "Ordered" }
            dd {
                @if job.ordered { "yes" } @else { "no" }
                @if let Some(position) = &position { " · " (position.render(&ctx, &job)) }
            }
            dt { "Spawn order" } dd.mono { (job.seq) }
            @if let Some(tick) = job.tick {
                dt { "Schedule tick" } dd { (format::timestamp(tick)) }
            }
            @if let Some(trace) = &job.trace_context {
                dt { "Trace context" } dd.mono { (trace) }
            }
        }

        h2 { "Payload" }
        (payload(&job))

        h2 { "Errors" }
        @if job.errors.is_empty() {
            p.muted { "No failed attempt." }
        } @else {
            table {
                thead { tr { th.n { "Attempt" } th { "At" } th { "Error" } } }
                tbody {
                    @for attempt in job.errors.iter().rev() {
                        tr {
                            td.n { (attempt.attempt) }
                            td title=(format::relative(attempt.at, now)) { (format::timestamp(attempt.at)) }
                            td { pre { (attempt.error) } }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(
        &ctx,
        &format!("Job {}", job.name),
        Nav::Jobs,
        body,
    ))
}

fn is_finished(state: JobState) -> bool {
    matches!(
        state,
        JobState::Failed | JobState::Completed | JobState::Cancelled
    )
}

fn run_at_label(state: JobState) -> &'static str {
    match state {
        JobState::Running => "Lease until",
        JobState::Failed => "Failed at",
        JobState::Completed => "Completed at",
        JobState::Cancelled => "Cancelled at",
        _ => "Runs at",
    }
}

/// The buttons that fit the job's state.
fn actions(ctx: &Ctx, job: &JobInfo) -> Markup {
    let base = format!("/jobs/{}", job.id);
    html! {
        @if job.state == JobState::Failed {
            (layout::action(ctx, &format!("{base}/retry"), &[], "Retry", ""))
        }
        @if !is_finished(job.state) {
            (layout::action(ctx, &format!("{base}/cancel"), &[], "Cancel", ""))
        }
        (layout::action(ctx, &format!("{base}/delete"), &[], "Delete", "danger"))
    }
}

/// The payload as text: JSON pretty-printed, bytes as their length and
/// hexadecimal. Escaped like everything else.
fn payload(job: &JobInfo) -> Markup {
    html! {
        @match &job.payload_json {
            Some(json) => {
                h3.muted { "JSON" }
                pre { (pretty(json)) }
            }
            None => {}
        }
        @match &job.payload_bytes {
            Some(bytes) => {
                h3.muted { "Bytes (" (bytes.len()) ")" }
                pre { (format::hex(bytes, HEX_SHOWN)) }
                @if bytes.len() > HEX_SHOWN { p.muted { "The first " (HEX_SHOWN) " bytes." } }
            }
            None => {}
        }
        @if job.payload_json.is_none() && job.payload_bytes.is_none() {
            p.muted { "None." }
        }
    }
}

fn pretty(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or_else(|_| json.to_owned())
}

/// Where an unfinished ordered job stands on its channel (name and
/// arguments): how many run before it (exact, from the job itself), and
/// the job holding the channel, looked for among the channel name's first
/// jobs in spawn order.
struct Position {
    /// Unfinished ordered jobs of the channel spawned before it.
    ahead: u64,
    /// The first of them, the job that holds the channel, if among the
    /// jobs looked at.
    head: Option<JobSummary>,
}

async fn ordered_position(app: &Shared, job: &JobInfo) -> Result<Position, DashboardError> {
    let ahead = job.ordered_ahead.unwrap_or(0);
    if ahead == 0 {
        return Ok(Position { ahead, head: None });
    }
    let mut query = JobQuery::new();
    query
        .set_channel_name(job.channel_name.clone())
        .set_limit(HEAD_WINDOW);
    let page = admin::list(&*app.backend, &query).await?;
    let head = page.jobs.into_iter().find(|other| {
        other.ordered
                && other.channel_args == job.channel_args
                && other.seq < job.seq
                // A failed ordered job holds its channel; completed and
                // cancelled ones do not.
                && !matches!(other.state, JobState::Completed | JobState::Cancelled)
    });
    Ok(Position { ahead, head })
}

impl Position {
    fn render(&self, ctx: &Ctx, job: &JobInfo) -> Markup {
        html! {
            @if self.ahead == 0 {
                "first in its channel"
                @if job.state == JobState::Blocked { " (it is about to be unblocked)" }
            } @else {
                (self.ahead) " ordered job(s) ahead of it"
                @if let Some(head) = &self.head {
                    "; the channel is held by "
                    a href=(ctx.href(&format!("/jobs/{}", head.id))) { (head.name) }
                    " " (layout::state_badge(head.state))
                }
            }
        }
    }
}
