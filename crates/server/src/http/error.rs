//! The API's error type and its stable codes.
//!
//! Every error response is `{"error": {"code": "snake_case", "message": "..."}}`.
//! Codes are part of the API contract: clients branch on them, so they never
//! change meaning. 5xx causes are logged, never sent to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchboard_store::StoreError;

/// An API failure, carrying its HTTP status and stable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `unauthorized`: missing or unknown bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// 401 `invalid_signature`: the webhook's `X-Hub-Signature-256` is
    /// missing, malformed or wrong (or no app secret is configured).
    #[error("{0}")]
    InvalidSignature(String),
    /// 403 `forbidden`: authenticated but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// 403 `verification_failed`: the webhook handshake token did not match.
    #[error("verification failed")]
    VerificationFailed,
    /// 404 `not_found`.
    #[error("{0} not found")]
    NotFound(String),
    /// 400 `invalid_request`: malformed query, path or JSON.
    #[error("{0}")]
    InvalidRequest(String),
    /// 422 `validation_failed`: well-formed but invalid field values.
    #[error("{0}")]
    Validation(String),
    /// 409 `conflict`.
    #[error("{0}")]
    Conflict(String),
    /// 413 `payload_too_large`.
    #[error("request body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    /// A domain refusal with its own stable code (`window_closed`,
    /// `opted_out`, `handoff_not_acknowledged`, `template_not_approved`,
    /// `sending_unconfigured`, …) and optional details.
    #[error("{message}")]
    Refused {
        /// HTTP status.
        status: StatusCode,
        /// Stable code.
        code: &'static str,
        /// What happened and what to do.
        message: String,
        /// Extra fields (e.g. `window_closed_at`).
        details: Option<serde_json::Value>,
    },
    /// 500 `internal`: the cause is logged, not returned.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status and the stable code.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::InvalidSignature(_) => (StatusCode::UNAUTHORIZED, "invalid_signature"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::VerificationFailed => (StatusCode::FORBIDDEN, "verification_failed"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::Refused { status, code, .. } => (*status, code),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(what.to_owned()),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let mut body = json!({"error": {"code": code, "message": self.to_string()}});
        if let ApiError::Refused {
            details: Some(details),
            ..
        } = &self
            && let (Some(err), Some(extra)) = (body["error"].as_object_mut(), details.as_object())
        {
            for (k, v) in extra {
                err.insert(k.clone(), v.clone());
            }
        }
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED && code == "unauthorized" {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// `Json<T>` whose rejections use the API's error body.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(match rejection.status() {
                StatusCode::UNPROCESSABLE_ENTITY => ApiError::Validation(rejection.body_text()),
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(0),
                _ => ApiError::InvalidRequest(rejection.body_text()),
            }),
        }
    }
}
