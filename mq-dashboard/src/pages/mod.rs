//! The pages, one module each.

pub(crate) mod channels;
pub(crate) mod job;
pub(crate) mod jobs;
pub(crate) mod overview;

use crate::error::DashboardError;

/// What any path the dashboard does not know gets.
pub(crate) async fn not_found() -> DashboardError {
    DashboardError::NotFound("the dashboard has no such page".to_owned())
}
