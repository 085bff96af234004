//! Each Session Service RPC's request and answer as the protobuf messages of `lanyard-proto`,
//! read and written with the codec the transport asked for (the JSON and protobuf helpers here
//! serve the User Service too): proto3 JSON (pbjson) for REST and Connect JSON, the
//! protobuf binary encoding (prost) for gRPC, gRPC-Web and Connect with `application/proto`.
//! Whatever the codec, the RPCs see the same typed message.

use lanyard_proto::zitadel::session::v2 as session;
use lanyard_proto::Message;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::error::{Code, ZitadelError};
use super::rpc::Rpc;
use super::transport::Answer;

/// A decoded request of one of the five RPCs.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    List(session::ListSessionsRequest),
    Get(session::GetSessionRequest),
    Create(session::CreateSessionRequest),
    Set(session::SetSessionRequest),
    Delete(session::DeleteSessionRequest),
}

/// An RPC's answer, ready to be encoded.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    List(session::ListSessionsResponse),
    // Boxed: a whole session is far larger than the other answers.
    Get(Box<session::GetSessionResponse>),
    Create(session::CreateSessionResponse),
    Set(session::SetSessionResponse),
    Delete(session::DeleteSessionResponse),
}

impl Request {
    /// Reads a proto3 JSON body (REST, Connect JSON); an empty body is an empty message.
    pub fn from_json(rpc: Rpc, body: &[u8]) -> Result<Request, ZitadelError> {
        let value = json_object(body)?;
        Ok(match rpc {
            Rpc::ListSessions => Request::List(from_value(value)?),
            Rpc::GetSession => Request::Get(from_value(value)?),
            Rpc::CreateSession => Request::Create(from_value(value)?),
            Rpc::SetSession => Request::Set(from_value(value)?),
            Rpc::DeleteSession => Request::Delete(from_value(value)?),
        })
    }

    /// Reads a binary protobuf message (gRPC, gRPC-Web, Connect proto).
    pub fn from_proto(rpc: Rpc, bytes: &[u8]) -> Result<Request, ZitadelError> {
        Ok(match rpc {
            Rpc::ListSessions => Request::List(decode(bytes, "ListSessionsRequest")?),
            Rpc::GetSession => Request::Get(decode(bytes, "GetSessionRequest")?),
            Rpc::CreateSession => Request::Create(decode(bytes, "CreateSessionRequest")?),
            Rpc::SetSession => Request::Set(decode(bytes, "SetSessionRequest")?),
            Rpc::DeleteSession => Request::Delete(decode(bytes, "DeleteSessionRequest")?),
        })
    }
}

impl Answer for Reply {
    fn rows(&self) -> usize {
        match self {
            Reply::List(list) => list.sessions.len(),
            _ => 0,
        }
    }

    fn to_proto(&self) -> Vec<u8> {
        match self {
            Reply::List(m) => m.encode_to_vec(),
            Reply::Get(m) => m.encode_to_vec(),
            Reply::Create(m) => m.encode_to_vec(),
            Reply::Set(m) => m.encode_to_vec(),
            Reply::Delete(m) => m.encode_to_vec(),
        }
    }

    fn to_json(&self) -> Result<Vec<u8>, ZitadelError> {
        match self {
            Reply::List(m) => list_json(
                m,
                "sessions",
                !m.sessions.is_empty() && m.details.as_ref().is_some_and(|d| d.total_result > 0),
            ),
            Reply::Get(m) => to_json(m),
            Reply::Create(m) => to_json(m),
            Reply::Set(m) => to_json(m),
            Reply::Delete(m) => to_json(m),
        }
    }

    fn created(&self) -> bool {
        matches!(self, Reply::Create(_))
    }
}

/// proto3 JSON leaves out zero values, but a list answer always carries its rows (`sessions`,
/// `result`) and `details.totalResult`, also when empty or 0: clients that read them without a
/// default do not trip (a deliberate difference from ZITADEL, still valid proto3 JSON).
pub(super) fn list_json<M: Serialize>(list: &M, rows: &str, complete: bool) -> Result<Vec<u8>, ZitadelError> {
    if complete {
        return to_json(list);
    }
    let mut value = serde_json::to_value(list).map_err(unencodable)?;
    if let Value::Object(map) = &mut value {
        map.entry(rows).or_insert_with(|| Value::Array(Vec::new()));
        let details = map
            .entry("details")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Value::Object(details) = details {
            details
                .entry("totalResult")
                .or_insert_with(|| Value::String("0".into()));
        }
    }
    serde_json::to_vec(&value).map_err(unencodable)
}

pub(super) fn to_json<M: Serialize>(message: &M) -> Result<Vec<u8>, ZitadelError> {
    serde_json::to_vec(message).map_err(unencodable)
}

fn unencodable(error: serde_json::Error) -> ZitadelError {
    tracing::error!(%error, "an answer has no proto3 JSON form");
    ZitadelError::internal()
}

/// The body as a JSON object, with NUL characters refused and `null` members dropped: proto3
/// JSON reads `null` as the field's default, which pbjson does for messages but not scalars.
pub(super) fn json_object(body: &[u8]) -> Result<Value, ZitadelError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    let mut value = match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => value,
        Ok(other) => {
            return Err(ZitadelError::invalid(format!(
                "the request body must be a JSON object, not {other}"
            )))
        }
        Err(e) => {
            return Err(ZitadelError::invalid(format!(
                "the request body is not valid JSON: {e}"
            )))
        }
    };
    if let Some(place) = crate::nul::find_nul(&value) {
        return Err(ZitadelError::invalid(format!(
            "{place} contains a NUL character (U+0000)"
        )));
    }
    drop_nulls(&mut value);
    Ok(value)
}

fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Deserialises a message, naming the field that did not fit.
pub(super) fn from_value<M: DeserializeOwned>(value: Value) -> Result<M, ZitadelError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            return ZitadelError::invalid(format!("the request is malformed: {inner}"));
        }
        let message = format!("{path}: {inner}");
        // ZITADEL's own id for a date query method it does not know.
        if path.ends_with("DateQuery.method") {
            return ZitadelError::new(Code::InvalidArgument, "GRPC-Dwigt", message);
        }
        ZitadelError::invalid(message)
    })
}

fn decode<M: Message + Default>(bytes: &[u8], name: &str) -> Result<M, ZitadelError> {
    decode_message(bytes, &format!("zitadel.session.v2.{name}"))
}

/// Reads a binary protobuf message, naming it (`zitadel.user.v2.AddOTPSMSRequest`) on failure.
pub(super) fn decode_message<M: Message + Default>(bytes: &[u8], full_name: &str) -> Result<M, ZitadelError> {
    M::decode(bytes).map_err(|e| ZitadelError::invalid(format!("the request is not a valid {full_name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lanyard_proto::zitadel::object::v2::{ListDetails, ListQuery};
    use serde_json::json;

    fn list(body: Value) -> Result<session::ListSessionsRequest, ZitadelError> {
        match Request::from_json(Rpc::ListSessions, body.to_string().as_bytes())? {
            Request::List(list) => Ok(list),
            other => panic!("a ListSessions request, not {other:?}"),
        }
    }

    #[test]
    fn json_and_binary_read_into_the_same_message() {
        let binary = session::ListSessionsRequest {
            query: Some(ListQuery {
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
        let from_json = list(json!({
            "query": {"offset": "10", "limit": 5, "asc": true},
            "queries": [{"userIdQuery": {"id": "u1"}}],
            "sortingColumn": "SESSION_FIELD_NAME_CREATION_DATE",
        }));
        assert_eq!(from_json.ok(), Some(binary.clone()));
        let from_proto = Request::from_proto(Rpc::ListSessions, &binary.encode_to_vec()).ok();
        assert_eq!(from_proto, Some(Request::List(binary)));
    }

    #[test]
    fn json_is_read_tolerantly() {
        // int64 and uint32 as numbers or strings, nulls as defaults, unknown fields ignored,
        // any RFC 3339 offset, enums by name or number.
        let request = list(json!({
            "query": {"offset": 3, "limit": "7", "asc": null},
            "queries": [{"creationDateQuery": {"creationDate": "2026-12-06T12:00:00+02:00", "method": 2}}],
            "fromTheFuture": {"x": 1},
            "sortingColumn": null,
        }));
        let request = request.unwrap_or_default();
        assert_eq!(
            request.query,
            Some(ListQuery {
                offset: 3,
                limit: 7,
                asc: false
            })
        );
        let Some(session::search_query::Query::CreationDateQuery(query)) =
            request.queries.first().and_then(|q| q.query.clone())
        else {
            panic!("a creation date query");
        };
        assert_eq!(query.creation_date.map(|t| t.seconds), Some(1_796_551_200));
        assert_eq!(query.method, 2);
    }

    #[test]
    fn json_errors_name_the_field() {
        let message = |body: Value| list(body).err().map(|e| e.message).unwrap_or_default();
        assert!(message(json!({"query": {"limit": "many"}})).starts_with("query.limit:"));
        assert!(
            message(json!({"queries": [{"creationDateQuery": {"creationDate": "soon"}}]}))
                .starts_with("queries[0].creationDateQuery.creationDate:")
        );
        assert!(message(json!({"query": {"offset": -1}})).starts_with("query.offset:"));
        let not_an_object = Request::from_json(Rpc::ListSessions, b"[1]").err();
        assert!(not_an_object.is_some_and(|e| e.message.contains("JSON object")));
        let nul = Request::from_json(Rpc::GetSession, br#"{"sessionId": "a\u0000"}"#).err();
        assert!(nul.is_some_and(|e| e.message.contains("NUL")));
    }

    #[test]
    fn binary_garbage_is_an_invalid_argument() {
        let error = Request::from_proto(Rpc::GetSession, b"\xff\xff\xff").err();
        assert_eq!(error.map(|e| e.code), Some(Code::InvalidArgument));
    }

    #[test]
    fn an_empty_list_answer_still_carries_sessions_and_total() {
        let reply = Reply::List(session::ListSessionsResponse {
            details: Some(ListDetails::default()),
            sessions: vec![],
        });
        let json: Value = serde_json::from_slice(&reply.to_json().unwrap_or_default()).unwrap_or_default();
        assert_eq!(json, json!({"details": {"totalResult": "0"}, "sessions": []}));
    }
}
