//! The ZITADEL Session Service v2 messages in proto3 JSON, for the documents. The handlers read
//! and write the generated protobuf types of `lanyard-proto` (see `zitadel::codec`), so these
//! types only describe them (issue 14 derives them from the protos instead): field names
//! are lowerCamelCase, 64-bit integers are strings (numbers are accepted too), timestamps are
//! RFC 3339 strings, bytes are base64, and unknown fields are ignored.

#![allow(dead_code)]

use std::collections::BTreeMap;

use utoipa::ToSchema;

/// grpc-gateway's error JSON, on the REST paths.
#[derive(ToSchema)]
#[schema(as = ZitadelRestError)]
pub struct RestError {
    /// The gRPC status code, e.g. 5 (not found).
    code: i32,
    /// The message, ending with ZITADEL's error id in parentheses.
    message: String,
    details: Vec<RestErrorDetail>,
}

#[derive(ToSchema)]
#[schema(as = ZitadelRestErrorDetail)]
pub struct RestErrorDetail {
    /// `type.googleapis.com/zitadel.v1.ErrorDetail`.
    #[schema(rename = "@type")]
    type_url: String,
    /// ZITADEL's error id, e.g. `QUERY-SFeaa`.
    id: String,
    message: String,
}

/// Connect's error JSON, on the Connect paths.
#[derive(ToSchema)]
#[schema(as = ZitadelConnectError)]
pub struct ConnectError {
    /// The Connect code, e.g. `not_found`, `invalid_argument`, `unauthenticated`.
    code: String,
    message: String,
    details: Vec<ConnectErrorDetail>,
}

#[derive(ToSchema)]
#[schema(as = ZitadelConnectErrorDetail)]
pub struct ConnectErrorDetail {
    /// `zitadel.v1.ErrorDetail`.
    #[schema(rename = "type")]
    type_name: String,
    /// The detail in protobuf binary, base64 without padding.
    value: String,
    debug: ConnectErrorDebug,
}

#[derive(ToSchema)]
#[schema(as = ZitadelConnectErrorDebug)]
pub struct ConnectErrorDebug {
    id: String,
    message: String,
}

// --- requests --------------------------------------------------------------------------------

#[derive(ToSchema)]
#[schema(as = zitadel::ListQuery, rename_all = "camelCase")]
pub struct ListQuery {
    /// uint64, as a string or a number.
    offset: Option<String>,
    /// At most 1000 (default 100).
    limit: Option<u32>,
    asc: Option<bool>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::SessionFieldName)]
pub enum SessionFieldName {
    #[schema(rename = "SESSION_FIELD_NAME_UNSPECIFIED")]
    Unspecified,
    #[schema(rename = "SESSION_FIELD_NAME_CREATION_DATE")]
    CreationDate,
}

#[derive(ToSchema)]
#[schema(as = zitadel::TimestampQueryMethod)]
pub enum TimestampQueryMethod {
    #[schema(rename = "TIMESTAMP_QUERY_METHOD_EQUALS")]
    Equals,
    #[schema(rename = "TIMESTAMP_QUERY_METHOD_GREATER")]
    Greater,
    #[schema(rename = "TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS")]
    GreaterOrEquals,
    #[schema(rename = "TIMESTAMP_QUERY_METHOD_LESS")]
    Less,
    #[schema(rename = "TIMESTAMP_QUERY_METHOD_LESS_OR_EQUALS")]
    LessOrEquals,
}

#[derive(ToSchema)]
#[schema(as = zitadel::IdsQuery)]
pub struct IdsQuery {
    /// At most 1000.
    ids: Vec<String>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::IdQuery)]
pub struct IdQuery {
    id: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::CreationDateQuery, rename_all = "camelCase")]
pub struct CreationDateQuery {
    creation_date: time::OffsetDateTime,
    method: Option<TimestampQueryMethod>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::ExpirationDateQuery, rename_all = "camelCase")]
pub struct ExpirationDateQuery {
    expiration_date: time::OffsetDateTime,
    method: Option<TimestampQueryMethod>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::UserAgentQuery, rename_all = "camelCase")]
pub struct UserAgentQuery {
    /// No id: the caller's session's fingerprint.
    fingerprint_id: Option<String>,
}

/// Exactly one member is set.
#[derive(ToSchema)]
#[schema(as = zitadel::SearchQuery, rename_all = "camelCase")]
pub struct SearchQuery {
    ids_query: Option<IdsQuery>,
    user_id_query: Option<IdQuery>,
    creation_date_query: Option<CreationDateQuery>,
    expiration_date_query: Option<ExpirationDateQuery>,
    /// No id: the caller.
    creator_query: Option<IdQuery>,
    user_agent_query: Option<UserAgentQuery>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::ListSessionsRequest, rename_all = "camelCase")]
pub struct ListSessionsRequest {
    query: Option<ListQuery>,
    /// At most 20, ANDed.
    queries: Option<Vec<SearchQuery>>,
    sorting_column: Option<SessionFieldName>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::GetSessionRequest, rename_all = "camelCase")]
pub struct GetSessionRequest {
    /// Required on Connect (REST: the path's).
    session_id: Option<String>,
    session_token: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::DeleteSessionRequest, rename_all = "camelCase")]
pub struct DeleteSessionRequest {
    /// Required on Connect (REST: the path's).
    session_id: Option<String>,
    session_token: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::CheckUser, rename_all = "camelCase")]
pub struct CheckUser {
    /// Exactly one of userId and loginName.
    user_id: Option<String>,
    /// An email address or username, case-insensitive.
    login_name: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::CheckPassword)]
pub struct CheckPassword {
    password: String,
}

#[derive(ToSchema)]
#[schema(as = zitadel::CheckCode)]
pub struct CheckCode {
    code: String,
}

#[derive(ToSchema)]
#[schema(as = zitadel::Checks, rename_all = "camelCase")]
pub struct Checks {
    user: Option<CheckUser>,
    password: Option<CheckPassword>,
    /// 6 digits.
    totp: Option<CheckCode>,
    /// Single use.
    recovery_code: Option<CheckCode>,
    /// Not implemented (501 / `unimplemented`).
    #[schema(rename = "webAuthN", value_type = Option<Object>)]
    web_authn: Option<serde_json::Value>,
    /// Not implemented (501 / `unimplemented`).
    #[schema(value_type = Option<Object>)]
    idp_intent: Option<serde_json::Value>,
    /// Not implemented (501 / `unimplemented`).
    #[schema(value_type = Option<Object>)]
    otp_sms: Option<serde_json::Value>,
    /// Not implemented (501 / `unimplemented`).
    #[schema(value_type = Option<Object>)]
    otp_email: Option<serde_json::Value>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::HeaderValues)]
pub struct HeaderValues {
    values: Vec<String>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::UserAgent, rename_all = "camelCase")]
pub struct UserAgent {
    fingerprint_id: Option<String>,
    /// An IP address.
    ip: Option<String>,
    description: Option<String>,
    header: Option<BTreeMap<String, HeaderValues>>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::CreateSessionRequest, rename_all = "camelCase")]
pub struct CreateSessionRequest {
    checks: Option<Checks>,
    /// Keys of 1 to 200 characters; values are base64 bytes (at most 64 KiB); at most 100 keys.
    metadata: Option<BTreeMap<String, String>>,
    /// Not implemented: a non-empty object is answered 501 / `unimplemented`.
    #[schema(value_type = Option<Object>)]
    challenges: Option<serde_json::Value>,
    user_agent: Option<UserAgent>,
    /// A protobuf Duration, e.g. `"3600s"`.
    lifetime: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::SetSessionRequest, rename_all = "camelCase")]
pub struct SetSessionRequest {
    /// Required on Connect (REST: the path's).
    session_id: Option<String>,
    /// Ignored (the caller's bearer decides); accepted for compatibility.
    session_token: Option<String>,
    checks: Option<Checks>,
    metadata: Option<BTreeMap<String, String>>,
    /// Not implemented: a non-empty object is answered 501 / `unimplemented`.
    #[schema(value_type = Option<Object>)]
    challenges: Option<serde_json::Value>,
    lifetime: Option<String>,
}

// --- responses -------------------------------------------------------------------------------

#[derive(ToSchema)]
#[schema(as = zitadel::Details, rename_all = "camelCase")]
pub struct Details {
    /// uint64 as a string.
    sequence: Option<String>,
    change_date: Option<time::OffsetDateTime>,
    creation_date: Option<time::OffsetDateTime>,
    resource_owner: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::ListDetails, rename_all = "camelCase")]
pub struct ListDetails {
    /// uint64 as a string; absent when 0.
    total_result: Option<String>,
    /// uint64 as a string; absent when 0.
    processed_sequence: Option<String>,
    timestamp: Option<time::OffsetDateTime>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::UserFactor, rename_all = "camelCase")]
pub struct UserFactor {
    verified_at: Option<time::OffsetDateTime>,
    id: Option<String>,
    login_name: Option<String>,
    display_name: Option<String>,
    organization_id: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::Factor, rename_all = "camelCase")]
pub struct Factor {
    verified_at: Option<time::OffsetDateTime>,
    /// WebAuthN only.
    user_verified: Option<bool>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::Factors, rename_all = "camelCase")]
pub struct Factors {
    user: Option<UserFactor>,
    password: Option<Factor>,
    #[schema(rename = "webAuthN")]
    web_authn: Option<Factor>,
    intent: Option<Factor>,
    totp: Option<Factor>,
    otp_sms: Option<Factor>,
    otp_email: Option<Factor>,
    recovery_code: Option<Factor>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::Session, rename_all = "camelCase")]
pub struct Session {
    /// A UUIDv7 (ZITADEL uses numeric ids; clients treat them as opaque).
    id: String,
    creation_date: time::OffsetDateTime,
    change_date: time::OffsetDateTime,
    /// uint64 as a string.
    sequence: String,
    factors: Option<Factors>,
    /// Values are base64.
    metadata: Option<BTreeMap<String, String>>,
    user_agent: Option<UserAgent>,
    expiration_date: Option<time::OffsetDateTime>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::ListSessionsResponse)]
pub struct ListSessionsResponse {
    details: ListDetails,
    /// Absent when there are none.
    sessions: Option<Vec<Session>>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::GetSessionResponse)]
pub struct GetSessionResponse {
    session: Session,
}

#[derive(ToSchema)]
#[schema(as = zitadel::CreateSessionResponse, rename_all = "camelCase")]
pub struct CreateSessionResponse {
    details: Details,
    session_id: String,
    session_token: String,
}

#[derive(ToSchema)]
#[schema(as = zitadel::SetSessionResponse, rename_all = "camelCase")]
pub struct SetSessionResponse {
    details: Details,
    /// A new token whenever checks were added; the old one stops working.
    session_token: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = zitadel::DeleteSessionResponse)]
pub struct DeleteSessionResponse {
    details: Details,
}

/// The Connect documents reference the messages by name: make sure they are all in the
/// components, whichever the REST operations already pulled in.
pub fn schemas() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)> {
    let mut out = Vec::new();
    macro_rules! add {
        ($($t:ty),*) => {$(
            out.push((<$t as utoipa::ToSchema>::name().into_owned(), <$t as utoipa::PartialSchema>::schema()));
            let mut nested = Vec::new();
            <$t as utoipa::ToSchema>::schemas(&mut nested);
            out.extend(nested);
        )*};
    }
    add!(
        ListSessionsRequest,
        ListSessionsResponse,
        GetSessionRequest,
        GetSessionResponse,
        CreateSessionRequest,
        CreateSessionResponse,
        SetSessionRequest,
        SetSessionResponse,
        DeleteSessionRequest,
        DeleteSessionResponse,
        RestError,
        ConnectError
    );
    out
}
