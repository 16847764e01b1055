//! Bearer-token authentication.
//!
//! Two kinds of token: the bootstrap admin token from the configuration
//! (compared in constant time), and per-agent API tokens, which are 32 random
//! bytes shown once at creation and stored only as their SHA-256.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchboard_store::{Agent, Store};

use super::AppState;
use super::error::ApiError;

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The bootstrap admin token.
    Admin,
    /// An agent's token.
    Agent(Box<Agent>),
}

impl Principal {
    /// Admins: the bootstrap token or an agent with role `admin`.
    pub fn is_admin(&self) -> bool {
        match self {
            Principal::Admin => true,
            Principal::Agent(a) => a.role == switchboard_core::model::Role::Admin,
        }
    }

    /// Fails with 403 unless admin.
    ///
    /// # Errors
    /// [`ApiError::Forbidden`].
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this endpoint needs an admin token".into(),
            ))
        }
    }
}

/// SHA-256 of a token, lowercase hex: what the database stores.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new agent API token: `sb_` + 64 hex characters (32 random bytes).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("sb_{}", hex::encode(bytes))
}

impl<S: Store> FromRequestParts<AppState<S>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState<S>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        if let Some(admin) = &state.config.admin_token
            && bool::from(admin.expose().as_bytes().ct_eq(token.as_bytes()))
        {
            return Ok(Principal::Admin);
        }
        match state.store.agent_by_token_hash(&token_hash(token)).await? {
            Some(agent) => Ok(Principal::Agent(Box::new(agent))),
            None => Err(ApiError::Unauthorized),
        }
    }
}
