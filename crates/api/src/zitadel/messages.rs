//! Each RPC's request and response as the protobuf messages of `lanyard-proto`, for the binary
//! codecs (gRPC, gRPC-Web, Connect with `application/proto`). A decoded request becomes the
//! proto3 JSON that the RPCs read (pbjson writes it); the RPC's JSON answer is read back into
//! the response message (pbjson) and encoded. One model of the wire serves every codec.

use lanyard_proto::zitadel::session::v2 as session;
use lanyard_proto::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::error::{Code, ZitadelError};
use super::rpc::Rpc;

/// Decodes `bytes` as `rpc`'s request message, into its proto3 JSON.
pub fn request_json(rpc: Rpc, bytes: &[u8]) -> Result<Value, ZitadelError> {
    match rpc {
        Rpc::ListSessions => decode::<session::ListSessionsRequest>(bytes, "ListSessionsRequest"),
        Rpc::GetSession => decode::<session::GetSessionRequest>(bytes, "GetSessionRequest"),
        Rpc::CreateSession => decode::<session::CreateSessionRequest>(bytes, "CreateSessionRequest"),
        Rpc::SetSession => decode::<session::SetSessionRequest>(bytes, "SetSessionRequest"),
        Rpc::DeleteSession => decode::<session::DeleteSessionRequest>(bytes, "DeleteSessionRequest"),
    }
}

/// Encodes `rpc`'s JSON answer as its response message.
pub fn response_bytes(rpc: Rpc, answer: Value) -> Result<Vec<u8>, ZitadelError> {
    match rpc {
        Rpc::ListSessions => encode::<session::ListSessionsResponse>(answer),
        Rpc::GetSession => encode::<session::GetSessionResponse>(answer),
        Rpc::CreateSession => encode::<session::CreateSessionResponse>(answer),
        Rpc::SetSession => encode::<session::SetSessionResponse>(answer),
        Rpc::DeleteSession => encode::<session::DeleteSessionResponse>(answer),
    }
}

fn decode<M: Message + Default + Serialize>(bytes: &[u8], name: &str) -> Result<Value, ZitadelError> {
    let message = M::decode(bytes)
        .map_err(|e| ZitadelError::invalid(format!("the request is not a valid zitadel.session.v2.{name}: {e}")))?;
    let json = serde_json::to_value(&message)
        .map_err(|e| ZitadelError::invalid(format!("the request's {name} has no JSON form: {e}")))?;
    // The RPCs reject NUL characters in JSON; binary strings must not slip them past.
    match crate::nul::find_nul(&json) {
        Some(place) => Err(ZitadelError::invalid(format!(
            "{place} contains a NUL character (U+0000)"
        ))),
        None => Ok(json),
    }
}

fn encode<M: Message + DeserializeOwned>(answer: Value) -> Result<Vec<u8>, ZitadelError> {
    let message: M = serde_json::from_value(answer).map_err(|e| {
        tracing::error!(error = %e, "an answer does not fit its protobuf message");
        ZitadelError::new(
            Code::Internal,
            "LANYARD-internal",
            "an unexpected error occurred; it has been logged",
        )
    })?;
    Ok(message.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_binary_request_reads_as_the_json_the_rpcs_take() {
        let request = session::ListSessionsRequest {
            query: Some(lanyard_proto::zitadel::object::v2::ListQuery {
                offset: 10,
                limit: 5,
                asc: true,
            }),
            queries: vec![session::SearchQuery {
                query: Some(session::search_query::Query::UserIdQuery(session::UserIdQuery {
                    id: "u1".into(),
                })),
            }],
            sorting_column: session::SessionFieldName::CreationDate as i32,
        };
        let json = request_json(Rpc::ListSessions, &request.encode_to_vec()).ok();
        assert_eq!(
            json,
            Some(json!({
                "query": {"offset": "10", "limit": 5, "asc": true},
                "queries": [{"userIdQuery": {"id": "u1"}}],
                "sortingColumn": "SESSION_FIELD_NAME_CREATION_DATE",
            }))
        );
    }

    #[test]
    fn a_json_answer_encodes_as_its_message() {
        let answer = json!({
            "session": {
                "id": "s1",
                "creationDate": "2026-12-05T10:00:00.123456Z",
                "sequence": "7",
                "metadata": {"k": "dmFsdWU="},
                "factors": {"user": {"id": "u1", "verifiedAt": "2026-12-05T10:00:00Z"}},
                "someFieldFromTheFuture": 1,
            }
        });
        let bytes = response_bytes(Rpc::GetSession, answer).unwrap_or_default();
        let decoded = session::GetSessionResponse::decode(bytes.as_slice()).ok();
        let session = decoded.and_then(|r| r.session).unwrap_or_default();
        assert_eq!(session.id, "s1");
        assert_eq!(session.sequence, 7);
        assert_eq!(session.metadata.get("k").map(|v| v.as_ref()), Some(&b"value"[..]));
        assert_eq!(
            session.creation_date.map(|t| (t.seconds, t.nanos)),
            Some((1_796_464_800, 123_456_000))
        );
        assert_eq!(session.factors.and_then(|f| f.user).map(|u| u.id), Some("u1".into()));
    }

    #[test]
    fn garbage_is_an_invalid_argument() {
        let error = request_json(Rpc::GetSession, b"\xff\xff\xff").err();
        assert_eq!(error.map(|e| e.code), Some(Code::InvalidArgument));
    }

    #[test]
    fn nul_characters_are_rejected_in_binary_requests_too() {
        let request = session::GetSessionRequest {
            session_id: "a\0b".into(),
            session_token: None,
        };
        let error = request_json(Rpc::GetSession, &request.encode_to_vec()).err();
        assert!(error.is_some_and(|e| e.message.contains("NUL")));
    }
}
