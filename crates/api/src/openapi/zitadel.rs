//! The ZITADEL parts of the documents: the error shapes of each transport (written here, they
//! are not protobuf messages) and the Session Service messages, whose schemas come from the
//! compiled protos (`proto_schemas`): one definition of the wire, never kept by hand.

#![allow(dead_code)]

use std::borrow::Cow;

use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use super::proto_schemas;

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

// --- messages ------------------------------------------------------------------------------

/// Declares a type per ZITADEL message that the paths name as a body; its schema is derived
/// from the compiled protos (`proto_schemas`), so the document describes exactly what the
/// handlers decode.
macro_rules! proto_message {
    ($($marker:ident => $full:literal),* $(,)?) => {$(
        #[doc = concat!("`", $full, "` in proto3 JSON.")]
        pub struct $marker;

        impl utoipa::PartialSchema for $marker {
            fn schema() -> RefOr<Schema> {
                proto_schemas::schema_of($full)
            }
        }

        impl utoipa::ToSchema for $marker {
            fn name() -> Cow<'static, str> {
                Cow::Owned(proto_schemas::component_name($full))
            }
        }
    )*

    /// Every message above, by full proto name.
    const MESSAGES: &[&str] = &[$($full),*];
    };
}

proto_message!(
    ListSessionsRequest => ".zitadel.session.v2.ListSessionsRequest",
    ListSessionsResponse => ".zitadel.session.v2.ListSessionsResponse",
    GetSessionRequest => ".zitadel.session.v2.GetSessionRequest",
    GetSessionResponse => ".zitadel.session.v2.GetSessionResponse",
    CreateSessionRequest => ".zitadel.session.v2.CreateSessionRequest",
    CreateSessionResponse => ".zitadel.session.v2.CreateSessionResponse",
    SetSessionRequest => ".zitadel.session.v2.SetSessionRequest",
    SetSessionResponse => ".zitadel.session.v2.SetSessionResponse",
    DeleteSessionRequest => ".zitadel.session.v2.DeleteSessionRequest",
    DeleteSessionResponse => ".zitadel.session.v2.DeleteSessionResponse",
);

pub fn schemas() -> Vec<(String, RefOr<Schema>)> {
    let mut out = proto_schemas::schemas_of(MESSAGES);
    macro_rules! add {
        ($($t:ty),*) => {$(
            out.push((<$t as utoipa::ToSchema>::name().into_owned(), <$t as utoipa::PartialSchema>::schema()));
            let mut nested = Vec::new();
            <$t as utoipa::ToSchema>::schemas(&mut nested);
            out.extend(nested);
        )*};
    }
    add!(RestError, ConnectError);
    out
}
