//! `POST /admin/lanyard/idp-intents`: a trusted caller (a login UI, an IdP bridge) that has
//! signed a user in at an external identity provider records it, and gets the intent id and
//! token that a ZITADEL `checks.idpIntent` uses up. Lanyard does not run the OAuth or SAML
//! exchange with providers itself; this is where ZITADEL's own intent flow would end.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use lanyard_service::RecordIdpIntent;
use serde::{Deserialize, Serialize};

use super::shown_once;
use crate::kratos::extract::{parse_uuid, AdminKey, KratosJson, SessionWrite};
use crate::kratos::KratosError;
use crate::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdpIntentBody {
    /// The identity (a UUID) the provider signed in.
    identity_id: String,
    /// The identity provider, as your login UI names it (e.g. `google`).
    idp_id: String,
    /// The user's id at that provider.
    idp_user_id: String,
}

/// The intent, in the names ZITADEL's `checks.idpIntent` takes.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordedIdpIntent {
    idp_intent_id: String,
    /// Shown only here; only its digest is stored.
    idp_intent_token: String,
    /// RFC 3339: the intent is unusable from then on.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: time::OffsetDateTime,
}

#[utoipa::path(post, path = "/admin/lanyard/idp-intents", operation_id = "lanyardRecordIdpIntent", tag = "lanyard",
    description = "Records a sign-in at an external identity provider that the caller has completed. \
        The returned id and token are one ZITADEL `checks.idpIntent` for this identity: single use, \
        valid for 10 minutes.",
    request_body = IdpIntentBody, security(("admin_key" = [])),
    responses(
        (status = 201, description = "The intent; the token is shown only here (`Cache-Control: no-store`)", body = RecordedIdpIntent),
        (status = 400, description = "Malformed body, an empty or overlong idp_id or idp_user_id, or the identity is disabled (`error.id` = `identity_disabled`)", body = crate::kratos::KratosErrorBody),
        (status = 404, description = "No such identity", body = crate::kratos::KratosErrorBody),
    ))]
pub async fn record_idp_intent(
    _: AdminKey<SessionWrite>,
    State(state): State<AppState>,
    KratosJson(body): KratosJson<IdpIntentBody>,
) -> Result<Response, KratosError> {
    let request = RecordIdpIntent {
        identity_id: parse_uuid("identity_id", &body.identity_id)?,
        idp_id: body.idp_id,
        idp_user_id: body.idp_user_id,
    };
    let recorded = state
        .service
        .record_idp_intent(request)
        .await
        .map_err(|e| KratosError::from_service(e, &state.config.public_base_url))?;
    let body = RecordedIdpIntent {
        idp_intent_id: recorded.intent.id.to_string(),
        idp_intent_token: recorded.token.into_string(),
        expires_at: recorded.intent.expires_at.to_datetime(),
    };
    Ok(shown_once(StatusCode::CREATED, body))
}
