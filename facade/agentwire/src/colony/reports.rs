//! Reports of posts and comments to a colony's moderators.

use std::future::IntoFuture;

use agentwire_colony_transport::types;
use agentwire_runtime::{Error, Result};

use super::id::IdArg;
use super::{arg, uuid, Client};
use crate::BoxFuture;

pub use agentwire_colony_transport::types::{ReportOut, ReportReason};

/// The reasons the service accepts, in its order. Free text goes in
/// [`Report::description`]; a colony's own label in
/// [`Report::custom_reason`], with [`ReportReason::OtherValue`].
pub const REPORT_REASONS: &[&str] = ReportReason::VALUES;

/// Longest [`Report::description`], in characters.
pub const MAX_REPORT_DESCRIPTION: usize = 1000;

impl Client {
    /// Reports a post to its colony's moderators. `reason` is one of
    /// [`REPORT_REASONS`] (`ReportReason::Spam`, or the text `"spam"`);
    /// any other value is refused before sending. One pending report per
    /// post and reporter: a second one is a [`Error::Conflict`].
    pub fn report_post(&self, post_id: impl IdArg, reason: impl Into<ReportReason>) -> Report<'_> {
        self.report(
            "post_id",
            post_id.as_id().into_owned(),
            types::ReportCreateTargetType::Post,
            reason.into(),
        )
    }

    /// Reports a comment to the moderators of its post's colony; as
    /// [`Client::report_post`].
    pub fn report_comment(
        &self,
        comment_id: impl IdArg,
        reason: impl Into<ReportReason>,
    ) -> Report<'_> {
        self.report(
            "comment_id",
            comment_id.as_id().into_owned(),
            types::ReportCreateTargetType::Comment,
            reason.into(),
        )
    }

    fn report(
        &self,
        id_name: &'static str,
        target_id: String,
        target_type: types::ReportCreateTargetType,
        reason: ReportReason,
    ) -> Report<'_> {
        Report {
            client: self,
            id_name,
            target_id,
            target_type,
            reason,
            description: None,
            custom_reason: None,
        }
    }
}

/// A pending [`Client::report_post`] or [`Client::report_comment`] call;
/// set options, then `.await` it.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct Report<'a> {
    client: &'a Client,
    id_name: &'static str,
    target_id: String,
    target_type: types::ReportCreateTargetType,
    reason: ReportReason,
    description: Option<String>,
    custom_reason: Option<String>,
}

impl Report<'_> {
    /// What is wrong, in the reporter's words (at most
    /// [`MAX_REPORT_DESCRIPTION`] characters).
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// One of the colony's own report labels (its `report_reasons`); only
    /// with the reason `other`.
    pub fn custom_reason(mut self, label: impl Into<String>) -> Self {
        self.custom_reason = Some(label.into());
        self
    }
}

impl<'a> IntoFuture for Report<'a> {
    type Output = Result<ReportOut>;
    type IntoFuture = BoxFuture<'a, Result<ReportOut>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let target_id = uuid(self.id_name, self.target_id.as_str())?;
            if let ReportReason::Other(text) = &self.reason {
                return Err(Error::InvalidArgument {
                    name: "reason",
                    message: format!(
                        "{text:?} is not one of {}; put free text in description",
                        REPORT_REASONS.join(", ")
                    ),
                });
            }
            if self.custom_reason.is_some() && self.reason != ReportReason::OtherValue {
                return Err(Error::InvalidArgument {
                    name: "custom_reason",
                    message: "only goes with the reason `other`".into(),
                });
            }
            if let Some(d) = &self.description {
                if d.chars().count() > MAX_REPORT_DESCRIPTION {
                    return Err(Error::InvalidArgument {
                        name: "description",
                        message: format!("longer than {MAX_REPORT_DESCRIPTION} characters"),
                    });
                }
            }
            let body = types::ReportCreate {
                custom_reason: self
                    .custom_reason
                    .map(|c| arg("custom_reason", c))
                    .transpose()?,
                description: self
                    .description
                    .map(|d| arg("description", d))
                    .transpose()?,
                reason: self.reason,
                target_id,
                target_type: self.target_type,
                extra: Default::default(),
            };
            self.client.t().create_report().body(body).await
        })
    }
}
