//! The User Service's paths: grpc-gateway's REST bindings (`/v2/users/{userId}/…`) and the RPC
//! paths, each documented with its messages.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{delete, get, post};
use serde_json::Value;
use utoipa::openapi::path::HttpMethod;
use utoipa_axum::router::UtoipaMethodRouter;

use super::{Rpc, UserService};
use crate::api_router::ApiRouter;
use crate::client::ClientIp;
use crate::query::QueryParams;
use crate::zitadel::codec::json_object;
use crate::zitadel::error::ZitadelError;
use crate::zitadel::openapi;
use crate::zitadel::transport::{self, Service};
use crate::AppState;

/// grpc-gateway's bindings of the served RPCs (user_service.proto's `google.api.http`); a POST
/// takes the request message as its body (`body: "*"`), a DELETE only its path, a GET its path
/// and query parameters (`domainQuery.domain=…`).
const REST: &[(HttpMethod, &str, Rpc)] = &[
    (HttpMethod::Post, "/v2/users/{userId}/passkeys", Rpc::RegisterPasskey),
    (
        HttpMethod::Post,
        "/v2/users/{userId}/passkeys/_search",
        Rpc::ListPasskeys,
    ),
    (
        HttpMethod::Post,
        "/v2/users/{userId}/passkeys/{passkeyId}",
        Rpc::VerifyPasskeyRegistration,
    ),
    (
        HttpMethod::Delete,
        "/v2/users/{userId}/passkeys/{passkeyId}",
        Rpc::RemovePasskey,
    ),
    (HttpMethod::Post, "/v2/users/{userId}/u2f", Rpc::RegisterU2F),
    (
        HttpMethod::Post,
        "/v2/users/{userId}/u2f/{u2fId}",
        Rpc::VerifyU2FRegistration,
    ),
    (HttpMethod::Delete, "/v2/users/{userId}/u2f/{u2fId}", Rpc::RemoveU2F),
    (HttpMethod::Post, "/v2/users/{userId}/totp", Rpc::RegisterTOTP),
    (
        HttpMethod::Post,
        "/v2/users/{userId}/totp/verify",
        Rpc::VerifyTOTPRegistration,
    ),
    (HttpMethod::Delete, "/v2/users/{userId}/totp", Rpc::RemoveTOTP),
    (HttpMethod::Post, "/v2/users/{userId}/otp_sms", Rpc::AddOTPSMS),
    (HttpMethod::Delete, "/v2/users/{userId}/otp_sms", Rpc::RemoveOTPSMS),
    (HttpMethod::Post, "/v2/users/{userId}/otp_email", Rpc::AddOTPEmail),
    (HttpMethod::Delete, "/v2/users/{userId}/otp_email", Rpc::RemoveOTPEmail),
    (
        HttpMethod::Get,
        "/v2/users/{userId}/authentication_methods",
        Rpc::ListAuthenticationMethodTypes,
    ),
];

/// Every REST and RPC path of the User Service.
pub(crate) fn routes() -> ApiRouter {
    let names: Vec<&str> = Rpc::ALL.iter().map(|rpc| rpc.name()).collect();
    let rpc_paths = openapi::rpc_routes(
        "zitadel.user.v2.UserService",
        &names,
        openapi::rpc_messages("zitadel.user.v2", &names),
        post(transport::rpc_path::<UserService>),
    );
    REST.iter()
        .map(|(method, path, rpc)| rest_route(method, path, *rpc))
        .fold(ApiRouter::default().routes(rpc_paths), ApiRouter::routes)
}

fn rest_route(method: &HttpMethod, path: &str, rpc: Rpc) -> UtoipaMethodRouter<AppState> {
    let handler =
        move |State(state): State<AppState>,
              Path(params): Path<BTreeMap<String, String>>,
              query: QueryParams,
              headers: HeaderMap,
              peer: ClientIp,
              body: Bytes| async move { rest(rpc, state, params, query, headers, peer, body).await };
    let has_body = *method == HttpMethod::Post;
    let method_router = match method {
        HttpMethod::Post => post(handler),
        HttpMethod::Get => get(handler),
        _ => delete(handler),
    };
    let paths = openapi::user_rest_operation(method, path, rpc.name(), has_body);
    (Vec::new(), paths, method_router)
}

/// A REST call: the body (empty for a DELETE) with the path's fields set over it, read as the
/// RPC's request message.
async fn rest(
    rpc: Rpc,
    state: AppState,
    params: BTreeMap<String, String>,
    query: QueryParams,
    headers: HeaderMap,
    peer: ClientIp,
    body: Bytes,
) -> Response {
    let request = with_fields(&body, &query, params).and_then(|body| UserService::from_json(rpc, &body));
    transport::run_rest::<UserService>(state, headers, peer, request).await
}

/// The body with the query parameters (grpc-gateway's `a.b=value` for nested fields) and then
/// the path's fields set over it.
fn with_fields(body: &[u8], query: &QueryParams, params: BTreeMap<String, String>) -> Result<Vec<u8>, ZitadelError> {
    let mut value = json_object(body)?;
    if let Value::Object(fields) = &mut value {
        for (name, field) in query.pairs() {
            set_nested(fields, name, field);
        }
        fields.extend(params.into_iter().map(|(name, field)| (name, Value::String(field))));
    }
    serde_json::to_vec(&value).map_err(|e| ZitadelError::invalid(format!("the request is malformed: {e}")))
}

fn set_nested(fields: &mut serde_json::Map<String, Value>, name: &str, field: &str) {
    let (head, rest) = name.split_once('.').unwrap_or((name, ""));
    if rest.is_empty() {
        // Query strings carry no types: booleans as proto3 JSON wants them, the rest as text.
        let value = match field {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(field.to_owned()),
        };
        fields.insert(head.to_owned(), value);
        return;
    }
    let inner = fields
        .entry(head.to_owned())
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if let Value::Object(inner) = inner {
        set_nested(inner, rest, field);
    }
}
