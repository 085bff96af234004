//! Request pieces for Kratos routes, each failing with a Kratos error.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use lanyard_domain::{ApiKey, Scope};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::KratosError;
use crate::AppState;

/// The scope a route needs, as a type so each handler states it in its signature.
pub trait RequiredScope: Send + Sync {
    const SCOPE: Scope;
}

macro_rules! scope_marker {
    ($name:ident, $scope:expr) => {
        pub struct $name;
        impl RequiredScope for $name {
            const SCOPE: Scope = $scope;
        }
    };
}

scope_marker!(SessionRead, Scope::SessionRead);
scope_marker!(SessionWrite, Scope::SessionWrite);
scope_marker!(SessionDelete, Scope::SessionDelete);
scope_marker!(IdentityRead, Scope::IdentityRead);
scope_marker!(IdentityWrite, Scope::IdentityWrite);

/// An admin API key that holds scope `S`. Accepts `Authorization: Bearer <key>` and, as the
/// Kratos SDKs send it, a bare `Authorization: <key>`.
pub struct AdminKey<S: RequiredScope> {
    pub key: ApiKey,
    _scope: PhantomData<S>,
}

pub fn bearer_or_bare(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        None => value,
    };
    (!token.is_empty()).then_some(token)
}

impl<S: RequiredScope> FromRequestParts<AppState> for AdminKey<S> {
    type Rejection = KratosError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = bearer_or_bare(&parts.headers).ok_or_else(|| {
            KratosError::unauthorized("an admin API key is required: send Authorization: Bearer <key>")
                .with_id("security_identity_mismatch")
        })?;
        let key = state
            .service
            .authenticate_api_key(presented)
            .await
            .map_err(|e| match e {
                lanyard_service::ServiceError::Unauthenticated(reason) => KratosError::unauthorized(reason),
                other => KratosError::from_service(other, &state.config.public_base_url),
            })?;
        if !key.allows(S::SCOPE) {
            return Err(KratosError::new(
                axum::http::StatusCode::FORBIDDEN,
                format!("the API key {:?} lacks the scope {}", key.name, S::SCOPE.as_str()),
            ));
        }
        Ok(AdminKey {
            key,
            _scope: PhantomData,
        })
    }
}

/// The session token of a public request: `X-Session-Token`, then the session cookie, then
/// `Authorization: Bearer`, as Kratos looks for it.
pub struct SessionTokenHeader(pub Option<String>);

impl FromRequestParts<AppState> for SessionTokenHeader {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers = &parts.headers;
        if let Some(token) = headers
            .get("x-session-token")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.trim().is_empty())
        {
            return Ok(SessionTokenHeader(Some(token.trim().to_owned())));
        }
        let cookie_name = state.config.session_cookie_name.as_str();
        for cookies in headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()) {
            for pair in cookies.split(';') {
                if let Some((name, value)) = pair.trim().split_once('=') {
                    if name == cookie_name && !value.is_empty() {
                        return Ok(SessionTokenHeader(Some(value.trim_matches('"').to_owned())));
                    }
                }
            }
        }
        if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            if let Some((scheme, token)) = value.trim().split_once(' ') {
                if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
                    return Ok(SessionTokenHeader(Some(token.trim().to_owned())));
                }
            }
        }
        Ok(SessionTokenHeader(None))
    }
}

/// A JSON body; any decoding problem is a 400 that says where the JSON is wrong.
pub struct KratosJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for KratosJson<T> {
    type Rejection = KratosError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state).await.map_err(|e| {
            KratosError::new(
                e.status(),
                format!("the request body could not be read: {}", e.body_text()),
            )
        })?;
        if bytes.is_empty() {
            return Err(KratosError::bad_request(
                "the request body must be a JSON document, but it is empty",
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| KratosError::bad_request(format!("the request body is not valid JSON: {e}")))?;
        if let Some(place) = crate::nul::find_nul(&value) {
            return Err(KratosError::bad_request(format!(
                "{place} contains a NUL character (U+0000)"
            )));
        }
        serde_json::from_value(value)
            .map(KratosJson)
            .map_err(|e| KratosError::bad_request(format!("the request body is not valid JSON for this endpoint: {e}")))
    }
}

pub fn parse_uuid(what: &str, value: &str) -> Result<Uuid, KratosError> {
    Uuid::parse_str(value).map_err(|e| KratosError::bad_uuid(what, e))
}
