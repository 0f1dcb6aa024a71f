//! Error answers the emulator gives, with one JSON shape for all of them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An HTTP error answer: status, a message a person can act on, and the
/// address (or other identifier) it is about.
///
/// Rendered as `{"status": 409, "error_message": "...", "identifier": "..."}`,
/// the element shape of a bulk create's `errors[]` (api-facts §1.5), so a
/// client parses one shape everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) identifier: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            identifier: None,
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    #[must_use]
    pub(crate) fn about(mut self, identifier: impl Into<String>) -> Self {
        self.identifier = Some(identifier.into());
        self
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        json!({
            "status": self.status.as_u16(),
            "error_message": self.message,
            "identifier": self.identifier,
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.to_json())).into_response()
    }
}
