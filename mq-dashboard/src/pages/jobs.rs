//! The job list: filtered by state, channel and name, a page at a time in
//! the order they were made in (id order), paged by the cursor
//! `mq::admin::list` returns.

use axum::extract::{RawQuery, State};
use maud::{Markup, html};
use mq::JobState;
use mq::admin::{self, JobCursor, JobQuery};
use time::OffsetDateTime;

use crate::Shared;
use crate::context::Ctx;
use crate::error::DashboardError;
use crate::format;
use crate::layout::{self, Nav};

/// The most jobs a page may be asked for.
const MAX_LIMIT: u32 = 1000;

/// The default page size.
const DEFAULT_LIMIT: u32 = 50;

/// What the list is asked for, from the query string.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Filters {
    state: Option<JobState>,
    channel: String,
    name: String,
    after: Option<JobCursor>,
    limit: Option<u32>,
}

impl Filters {
    /// Reads the query string; any malformed value is a bad request that
    /// says which.
    pub(crate) fn parse(query: Option<&str>) -> Result<Self, DashboardError> {
        let mut filters = Self::default();
        let bad = |error: mq::Error| DashboardError::BadRequest(error.to_string());
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match &*key {
                "state" => filters.state = Some(value.parse().map_err(bad)?),
                "channel" => filters.channel = value.to_owned(),
                "name" => filters.name = value.to_owned(),
                "after" => filters.after = Some(value.parse().map_err(bad)?),
                "limit" => {
                    let limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
                        .ok_or_else(|| {
                            DashboardError::BadRequest(format!(
                                "invalid limit: {value:?} is not a page size from 1 to {MAX_LIMIT}"
                            ))
                        })?;
                    filters.limit = Some(limit);
                }
                _ => {}
            }
        }
        Ok(filters)
    }

    /// The list's URL with these filters, starting after `after`.
    fn href(&self, ctx: &Ctx, after: Option<JobCursor>) -> String {
        let after = after.map(|cursor| cursor.to_string()).unwrap_or_default();
        let limit = self.limit.map(|l| l.to_string()).unwrap_or_default();
        let state = self.state.map_or("", JobState::as_str);
        ctx.href(&format!(
            "/jobs{}",
            format::query(&[
                ("state", state),
                ("channel", &self.channel),
                ("name", &self.name),
                ("limit", &limit),
                ("after", &after),
            ])
        ))
    }
}

/// `GET /jobs`.
pub(crate) async fn page(
    State(app): State<Shared>,
    ctx: Ctx,
    RawQuery(query): RawQuery,
) -> Result<Markup, DashboardError> {
    let filters = Filters::parse(query.as_deref())?;
    let mut query = JobQuery::new();
    query.set_limit(filters.limit.unwrap_or(DEFAULT_LIMIT));
    if !filters.channel.is_empty() {
        query.set_channel_name(filters.channel.clone());
    }
    if let Some(state) = filters.state {
        query.set_state(state);
    }
    if let Some(after) = filters.after {
        query.set_after(after);
    }
    if !filters.name.is_empty() {
        query.set_name(filters.name.clone());
    }
    let page = admin::list(&*app.backend, &query).await?;

    let now = OffsetDateTime::now_utc();
    let body = html! {
        h1 { "Jobs" }
        (filter_form(&ctx, &filters))
        @if page.jobs.is_empty() {
            p.muted { "No job on this page." }
        } @else {
            table {
                thead {
                    tr {
                        th { "Job" } th { "Channel" } th { "State" } th.n { "Attempt" }
                        th { "Run at" } th { "Spawned" } th { "Last error" }
                    }
                }
                tbody {
                    @for job in &page.jobs {
                        tr {
                            td {
                                a href=(ctx.href(&format!("/jobs/{}", job.id))) { (job.name) }
                                br; span.mono.muted { (job.id) }
                            }
                            td {
                                (layout::channel_name(&job.channel_name))
                                @if !job.channel_args.is_empty() { br; span.muted { (job.channel_args) } }
                                @if job.ordered { br; span.muted { "ordered" } }
                            }
                            td { (layout::state_badge(job.state)) }
                            td.n { (job.attempt) " / " (job.retries + 1) }
                            td title=(format::timestamp(job.run_at)) { (format::relative(job.run_at, now)) }
                            td title=(format::timestamp(job.created_at)) { (format::relative(job.created_at, now)) }
                            td {
                                @if let Some(error) = &job.last_error {
                                    span title=(format::truncate(&error.error, 2000)) { (format::truncate(&error.error, 120)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        nav.pager {
            @if filters.after.is_some() {
                a href=(filters.href(&ctx, None)) { "« First page" }
            }
            @if let Some(next) = page.next {
                a.next href=(filters.href(&ctx, Some(next))) rel="next" { "Next page »" }
            }
        }
    };
    Ok(layout::page(&ctx, "Jobs", Nav::Jobs, body))
}

/// The filters as a GET form: works without JavaScript.
fn filter_form(ctx: &Ctx, filters: &Filters) -> Markup {
    html! {
        form.filters method="get" action=(ctx.href("/jobs")) {
            label {
                "State"
                select name="state" {
                    option value="" { "any" }
                    @for state in JobState::ALL {
                        option value=(state.as_str()) selected[filters.state == Some(state)] { (state.as_str()) }
                    }
                }
            }
            label { "Channel" input type="text" name="channel" value=(filters.channel); }
            label { "Name" input type="text" name="name" value=(filters.name); }
            @if let Some(limit) = filters.limit {
                input type="hidden" name="limit" value=(limit);
            }
            button type="submit" { "Filter" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_read_from_the_query() {
        let filters = Filters::parse(Some(
            "state=failed&channel=a%20b&name=&after=00000000-0000-0000-0000-000000000000&limit=10&x=1",
        ))
        .unwrap();
        assert_eq!(
            filters,
            Filters {
                state: Some(JobState::Failed),
                channel: "a b".to_owned(),
                name: String::new(),
                after: Some(JobCursor::after(uuid::Uuid::nil())),
                limit: Some(10),
            }
        );
        assert_eq!(Filters::parse(None).unwrap(), Filters::default());
        for bad in [
            "state=sleeping",
            "after=x",
            "limit=0",
            "limit=100000",
            "limit=-1",
        ] {
            assert!(
                matches!(
                    Filters::parse(Some(bad)),
                    Err(DashboardError::BadRequest(_))
                ),
                "{bad}"
            );
        }
    }
}
