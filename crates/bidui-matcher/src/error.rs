//! HTTP errors: a status, a stable code and a message written for the caller. Internal
//! failures are logged in full and answered with a bare 500: never echo internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bidui_core::api::ApiError;

use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The parties a refusal waits for (`ApiError::waiting_for`).
    pub waiting_for: Vec<String>,
}

impl ApiFailure {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiFailure {
        ApiFailure { status, code, message: message.into(), waiting_for: Vec::new() }
    }

    /// The refusal naming the parties it waits for.
    pub fn waiting_for(self, parties: Vec<String>) -> ApiFailure {
        ApiFailure { waiting_for: parties, ..self }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::CONFLICT, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn internal(context: &str, error: impl std::fmt::Display) -> ApiFailure {
        tracing::error!(%error, "{context}");
        ApiFailure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the matcher's log has the details",
        )
    }
}

impl From<StoreError> for ApiFailure {
    /// A database that cannot be written at the moment (read-only or full disk, file gone)
    /// is the service's state, not the request's fault: `503`, so the caller retries later.
    fn from(error: StoreError) -> ApiFailure {
        if error.is_unwritable() {
            tracing::error!(%error, "a write to the database failed");
            return ApiFailure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unwritable",
                "数据库暂不可写 (the matcher's database cannot be written at the moment): retry later",
            );
        }
        ApiFailure::internal("database", error)
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::info!(status = self.status.as_u16(), code = self.code, "refused: {}", self.message);
        }
        let error = ApiError { code: self.code.to_owned(), message: self.message, waiting_for: self.waiting_for };
        (self.status, Json(error)).into_response()
    }
}
