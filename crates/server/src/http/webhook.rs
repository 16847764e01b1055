//! Meta's webhook endpoint.
//!
//! - `GET` handshake (Graph API "Verification Requests"): `hub.mode=subscribe`
//!   and a `hub.verify_token` equal to ours → 200 with `hub.challenge` as the
//!   plain body; anything else → 403.
//! - `POST`: the raw body is verified against `X-Hub-Signature-256`
//!   (HMAC-SHA256 with the app secret, over the bytes exactly as received:
//!   Meta signs its `\uXXXX`-escaped text, so re-serialising would break
//!   non-ASCII messages) before anything is parsed or stored; 401 otherwise.
//!   Bodies over 3 MB (Meta's documented maximum) → 413. A verified body is
//!   stored and processed by the group-commit writer; the 200 is sent only
//!   after the commit.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use switchboard_store::Store;

use super::AppState;
use super::error::ApiError;

/// `GET /webhooks/whatsapp`: the subscription handshake.
pub async fn verify<S: Store>(
    State(state): State<AppState<S>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mode_ok = q.get("hub.mode").is_some_and(|m| m == "subscribe");
    let token_ok = match (&state.config.verify_token, q.get("hub.verify_token")) {
        (Some(ours), Some(theirs)) => bool::from(ours.expose().as_bytes().ct_eq(theirs.as_bytes())),
        _ => false,
    };
    match (mode_ok && token_ok, q.get("hub.challenge")) {
        (true, Some(challenge)) => (StatusCode::OK, challenge.clone()).into_response(),
        _ => {
            metrics::counter!("switchboard_webhooks_rejected_total", "reason" => "verification_failed").increment(1);
            ApiError::VerificationFailed.into_response()
        }
    }
}

/// `POST /webhooks/whatsapp`: a signed delivery.
pub async fn receive<S: Store>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let reject = |reason: &'static str, err: ApiError| {
        metrics::counter!("switchboard_webhooks_rejected_total", "reason" => reason).increment(1);
        err
    };
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            reject(
                "too_large",
                ApiError::PayloadTooLarge(state.config.ingest.max_body_bytes),
            )
        } else {
            reject("bad_body", ApiError::InvalidRequest(e.body_text()))
        }
    })?;
    let Some(secret) = &state.config.app_secret else {
        return Err(reject(
            "no_app_secret",
            ApiError::InvalidSignature("no app secret is configured (SWITCHBOARD_APP_SECRET); refusing unverifiable deliveries".into()),
        ));
    };
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if let Err(e) =
        switchboard_whatsapp::verify_signature(secret.expose().as_bytes(), &body, signature)
    {
        let reason = match e {
            switchboard_whatsapp::SignatureError::Missing => "signature_missing",
            switchboard_whatsapp::SignatureError::Malformed => "signature_malformed",
            switchboard_whatsapp::SignatureError::Mismatch => "signature_mismatch",
        };
        return Err(reject(
            reason,
            ApiError::InvalidSignature(format!("X-Hub-Signature-256: {e}")),
        ));
    }
    metrics::counter!("switchboard_webhooks_received_total").increment(1);
    let report = state
        .ingestor
        .submit(
            body.to_vec(),
            signature.map(str::to_owned),
            state.clock.now(),
        )
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if report.dead_letter {
        metrics::counter!("switchboard_webhooks_dead_lettered_total").increment(1);
    }
    Ok((StatusCode::OK, axum::Json(report)).into_response())
}
