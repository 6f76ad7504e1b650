//! The actions, each a POST form: retry, cancel and delete a job; retry a
//! channel's failed jobs, pause and resume a channel. The guard
//! (`csrf.rs`) has checked the request before any of these runs. Each
//! answers with a redirect (303 See Other) back to a page, carrying a
//! flash message that says what happened.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use mq::admin;
use mq::{CancelOutcome, Error};
use serde::Deserialize;

use crate::Shared;
use crate::context::{self, Ctx};
use crate::error::DashboardError;
use crate::pages::job::parse_id;

/// The form of the actions on a channel.
#[derive(Debug, Deserialize)]
pub(crate) struct ChannelForm {
    #[serde(default)]
    channel: String,
}

impl ChannelForm {
    fn channel(&self) -> Result<&str, DashboardError> {
        match self.channel.as_str() {
            "" => Err(DashboardError::BadRequest("no channel named".to_owned())),
            name => Ok(name),
        }
    }
}

/// A redirect to a dashboard page with a flash message.
fn back(ctx: &Ctx, path: &str, text: &str, error: bool) -> Response {
    let location = context::with_flash(&ctx.base, path, text, error);
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

/// `POST /jobs/{id}/retry`: a failed job is made ready again, with a full
/// set of attempts.
pub(crate) async fn retry(
    State(app): State<Shared>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, DashboardError> {
    let id = parse_id(&id)?;
    let page = format!("/jobs/{id}");
    let retried = admin::retry(&*app.backend, &[id]).await?;
    Ok(if retried.contains(&id) {
        back(&ctx, &page, "The job will run again.", false)
    } else {
        back(
            &ctx,
            &page,
            "Only failed jobs can be retried: nothing changed.",
            true,
        )
    })
}

/// `POST /jobs/{id}/cancel`.
pub(crate) async fn cancel(
    State(app): State<Shared>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, DashboardError> {
    let id = parse_id(&id)?;
    let page = format!("/jobs/{id}");
    Ok(match mq::cancel(&*app.backend, id).await {
        Ok(CancelOutcome::Cancelled) => back(&ctx, &page, "The job is cancelled.", false),
        Ok(CancelOutcome::CancelledRunning) => back(
            &ctx,
            &page,
            "The job is cancelled; its runner is being told.",
            false,
        ),
        Ok(CancelOutcome::Finished(state)) => back(
            &ctx,
            &page,
            &format!("The job had finished ({state}): nothing changed."),
            true,
        ),
        Ok(_) => back(&ctx, &page, "The job is cancelled.", false),
        Err(Error::NotFound { .. }) => back(&ctx, "/jobs", &format!("No job {id}."), true),
        Err(error) => return Err(error.into()),
    })
}

/// `POST /jobs/{id}/delete`: back to the job list, since the job is gone.
pub(crate) async fn delete(
    State(app): State<Shared>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, DashboardError> {
    let id = parse_id(&id)?;
    let deleted = admin::delete(&*app.backend, &[id]).await?;
    Ok(if deleted.contains(&id) {
        back(&ctx, "/jobs", &format!("Deleted job {id}."), false)
    } else {
        back(
            &ctx,
            "/jobs",
            &format!("No job {id}: nothing deleted."),
            true,
        )
    })
}

/// `POST /channels/retry-failed`: every failed job of a channel name.
pub(crate) async fn retry_failed(
    State(app): State<Shared>,
    ctx: Ctx,
    Form(form): Form<ChannelForm>,
) -> Result<Response, DashboardError> {
    let channel = form.channel()?;
    let retried = admin::retry_failed(&*app.backend, Some(channel)).await?;
    Ok(back(
        &ctx,
        "/channels",
        &format!("Retried {retried} failed job(s) of channel {channel}."),
        false,
    ))
}

/// `POST /channels/pause`.
pub(crate) async fn pause(
    State(app): State<Shared>,
    ctx: Ctx,
    Form(form): Form<ChannelForm>,
) -> Result<Response, DashboardError> {
    let channel = form.channel()?;
    Ok(if admin::pause(&*app.backend, channel).await? {
        back(
            &ctx,
            "/channels",
            &format!("Paused channel {channel}: runners leave its jobs until it is resumed."),
            false,
        )
    } else {
        back(
            &ctx,
            "/channels",
            &format!("Channel {channel} was paused already."),
            true,
        )
    })
}

/// `POST /channels/resume`.
pub(crate) async fn resume(
    State(app): State<Shared>,
    ctx: Ctx,
    Form(form): Form<ChannelForm>,
) -> Result<Response, DashboardError> {
    let channel = form.channel()?;
    Ok(match admin::resume(&*app.backend, channel).await {
        Ok(()) => back(
            &ctx,
            "/channels",
            &format!("Resumed channel {channel}."),
            false,
        ),
        Err(Error::NotPaused { .. }) => back(
            &ctx,
            "/channels",
            &format!("Channel {channel} was not paused."),
            true,
        ),
        Err(error) => return Err(error.into()),
    })
}
