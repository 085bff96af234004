//! `POST /admin/lanyard/sessions`: issue a session for an identity that the caller has
//! authenticated by its own means (a login UI, an IdP bridge, a migration). Returns the
//! session and, once, its token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use lanyard_domain::{Aal, Method, Micros};
use lanyard_service::{DeviceInput, FactorInput, IssueSession, Principal};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::kratos::extract::{parse_uuid, AdminKey, KratosJson, SessionWrite};
use crate::kratos::wire::{session_json, Audience, HiddenDevices, SessionJson, SessionOptions};
use crate::kratos::KratosError;
use crate::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IssueSessionBody)]
pub struct IssueBody {
    /// The identity (a UUID) the caller has authenticated.
    identity_id: String,
    #[serde(default)]
    methods: Vec<MethodBody>,
    #[serde(default)]
    device: Option<DeviceBody>,
    /// A duration such as `"1h"`, `"30m"` or `"3600s"`.
    lifespan: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IssueSessionMethod)]
pub struct MethodBody {
    /// One of the eleven Kratos method names (`password`, `totp`, `lookup_secret`, `webauthn`, …).
    method: String,
    /// `aal1`, `aal2` or `aal3`; by default `aal2` for totp, lookup_secret and webauthn, else `aal1`.
    aal: Option<String>,
    /// RFC 3339; the time of issue by default.
    #[serde(default, with = "time::serde::rfc3339::option")]
    completed_at: Option<OffsetDateTime>,
    provider: Option<String>,
    organization: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IssueSessionDevice)]
pub struct DeviceBody {
    ip_address: Option<String>,
    user_agent: Option<String>,
    location: Option<String>,
}

fn factor(index: usize, body: MethodBody) -> Result<FactorInput, KratosError> {
    let method = Method::from_kratos_name(&body.method).ok_or_else(|| {
        KratosError::bad_request(format!(
            "unknown authentication method {:?}; use one of {}",
            body.method,
            lanyard_domain::factor::KRATOS_METHOD_NAMES.join(", ")
        ))
    })?;
    let aal = match body.aal.as_deref() {
        None => None,
        Some(value) => Some(
            Aal::parse(value)
                .filter(|a| *a != Aal::Aal0)
                .ok_or_else(|| KratosError::bad_request(format!("aal must be aal1, aal2 or aal3, not {value:?}")))?,
        ),
    };
    let completed_at = body
        .completed_at
        .map(|at| Micros::from_datetime(at).check_client_range())
        .transpose()
        .map_err(|problem| KratosError::bad_request(format!("methods[{index}].completed_at {problem}")))?;
    Ok(FactorInput {
        method,
        aal,
        completed_at,
        provider: body.provider,
        organization: body.organization,
    })
}

fn lifespan(value: Option<&str>) -> Result<Option<time::Duration>, KratosError> {
    let Some(value) = value else { return Ok(None) };
    let parsed = humantime::parse_duration(value.trim()).map_err(|e| {
        KratosError::bad_request(format!(
            "lifespan {value:?} is not a duration like \"24h\" or \"30m\": {e}"
        ))
    })?;
    let duration = time::Duration::try_from(parsed)
        .map_err(|_| KratosError::bad_request(format!("lifespan {value:?} is too long")))?;
    Ok(Some(duration))
}

#[utoipa::path(post, path = "/admin/lanyard/sessions", operation_id = "lanyardIssueSession", tag = "lanyard",
    description = "Issues a session for an identity the caller has authenticated by its own means. The token is shown only here.",
    request_body = IssueBody, security(("admin_key" = [])),
    responses(
        (status = 201, description = "The session (identity and devices expanded) and its token", body = IssuedSession),
        (status = 400, description = "Malformed body, unknown method or aal, bad lifespan, or the identity is disabled (`error.id` = `identity_disabled`)", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn issue_session(
    admin: AdminKey<SessionWrite>,
    State(state): State<AppState>,
    KratosJson(body): KratosJson<IssueBody>,
) -> Result<Response, KratosError> {
    let identity_id = parse_uuid("identity_id", &body.identity_id)?;
    let factors = body
        .methods
        .into_iter()
        .enumerate()
        .map(|(index, method)| factor(index, method))
        .collect::<Result<Vec<_>, _>>()?;
    let device = body.device.unwrap_or_default();
    let ip_address = match device.ip_address.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(ip) => Some(
            lanyard_domain::parse_ip(ip)
                .map_err(|problem| KratosError::bad_request(format!("device.ip_address: {problem}")))?,
        ),
    };
    let request = IssueSession {
        identity_id,
        factors,
        device: DeviceInput {
            ip_address,
            user_agent: device.user_agent,
            location: device.location,
            ..Default::default()
        },
        lifespan: lifespan(body.lifespan.as_deref())?,
    };
    let issued = state
        .service
        .issue_session(&Principal::ApiKey(admin.key), request)
        .await
        .map_err(|e| KratosError::from_service(e, &state.config.public_base_url))?;
    let options = SessionOptions {
        audience: Audience::AdminSession,
        expand_identity: true,
        expand_devices: true,
        hidden_devices: HiddenDevices::Empty,
        public_base_url: &state.config.public_base_url,
    };
    let body = IssuedSession {
        session: session_json(&issued.view, &options),
        session_token: issued.token.expose(),
    };
    Ok(super::shown_once(StatusCode::CREATED, body))
}

/// The session and, this once, its token.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedSession<'a> {
    session: SessionJson,
    session_token: &'a str,
}
