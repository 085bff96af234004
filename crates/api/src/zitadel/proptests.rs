//! Property tests of the ListSessions request parser: arbitrary JSON, built mostly from the
//! field names and values ZITADEL uses so that it reaches deep into the parser, either parses
//! within the store's bounds or is refused, and never panics. The `zitadel_list_sessions`
//! cargo-fuzz target (crates/api/fuzz) does the same from raw bytes.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::parse_list_sessions;

const KEYS: &[&str] = &[
    "query",
    "offset",
    "limit",
    "asc",
    "sortingColumn",
    "queries",
    "idsQuery",
    "ids",
    "userIdQuery",
    "id",
    "creationDateQuery",
    "creationDate",
    "expirationDateQuery",
    "expirationDate",
    "method",
    "creatorQuery",
    "userAgentQuery",
    "fingerprintId",
    "x",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n.to_string())),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!("18446744073709551615")),
        Just(json!("2026-01-01T00:00:00+02:00")),
        Just(json!("TIMESTAMP_QUERY_METHOD_GREATER_OR_EQUALS")),
        Just(json!("SESSION_FIELD_NAME_CREATION_DATE")),
        ".{0,12}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|pairs| Value::Object(
                pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>()
            )),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_json_parses_within_bounds_or_is_refused(request in value()) {
        let body = serde_json::to_vec(&request).unwrap();
        if let Ok(search) = parse_list_sessions(&body) {
            prop_assert!(search.offset <= i64::MAX as u64);
            prop_assert!(search.created.len() + search.expires.len() <= 20);
            prop_assert!(search.ids.as_ref().is_none_or(|ids| ids.len() <= 1000));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_list_sessions(&body);
    }

    #[test]
    fn every_offset_up_to_the_sql_maximum_is_taken_and_none_above(offset in any::<u64>()) {
        let body = serde_json::to_vec(&json!({"query": {"offset": offset.to_string()}})).unwrap();
        let parsed = parse_list_sessions(&body);
        prop_assert_eq!(parsed.is_ok(), offset <= i64::MAX as u64);
    }
}

/// One length-prefixed gRPC message.
fn frame(flags: u8, message: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

proptest! {
    #[test]
    fn arbitrary_bodies_on_every_transport_are_read_or_refused(
        content_type in prop::sample::select(&super::RPC_CONTENT_TYPES[..]),
        rpc in prop::sample::select(&super::RPC_NAMES[..]),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let _ = super::read_rpc_request(content_type, rpc, &body);
    }

    #[test]
    fn framed_garbage_is_refused_by_the_message_decoder_not_a_panic(
        rpc in prop::sample::select(&super::RPC_NAMES[..]),
        flags in prop_oneof![Just(0u8), any::<u8>()],
        message in prop::collection::vec(any::<u8>(), 0..256),
        as_text in any::<bool>(),
    ) {
        let framed = frame(flags, &message);
        let (content_type, body) = if as_text {
            use base64::Engine;
            ("application/grpc-web-text", base64::engine::general_purpose::STANDARD.encode(&framed).into_bytes())
        } else {
            ("application/grpc", framed)
        };
        let result = super::read_rpc_request(content_type, rpc, &body);
        if flags != 0 {
            prop_assert!(result.is_err(), "flags {flags:#x} must be refused");
        }
    }

    #[test]
    fn a_framed_get_request_is_read_on_every_binary_transport(id in "[a-z0-9-]{1,40}") {
        use lanyard_proto::Message;
        let message = lanyard_proto::zitadel::session::v2::GetSessionRequest {
            session_id: id,
            session_token: None,
        }
        .encode_to_vec();
        prop_assert!(super::read_rpc_request("application/proto", "GetSession", &message).is_ok());
        prop_assert!(super::read_rpc_request("application/grpc", "GetSession", &frame(0, &message)).is_ok());
        prop_assert!(super::read_rpc_request("application/grpc-web", "GetSession", &frame(0, &message)).is_ok());
    }
}
