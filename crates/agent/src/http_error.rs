//! Error answers in the OpenAI style every chat client understands:
//! `{"error": {"message", "type", "param", "code"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An OpenAI-style error answer.
pub(crate) struct ApiError {
    status: StatusCode,
    kind: &'static str,
    code: Option<&'static str>,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"message": self.message, "type": self.kind, "param": null, "code": self.code}});
        (self.status, Json(body)).into_response()
    }
}

pub(crate) fn error(
    status: StatusCode,
    kind: &'static str,
    code: Option<&'static str>,
    message: impl Into<String>,
) -> ApiError {
    ApiError { status, kind, code, message: message.into() }
}

pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    error(StatusCode::BAD_REQUEST, "invalid_request_error", None, message)
}
