//! The binary ZITADEL transports' request decoding: gRPC and gRPC-Web frames (and the base64 of
//! grpc-web-text), Connect's protobuf and JSON bodies, for every RPC. The first byte picks the
//! transport and the RPC; any bytes after it are refused with an error or read, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

use lanyard_api::zitadel::{RPC_CONTENT_TYPES as CONTENT_TYPES, RPC_NAMES as RPCS};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    let rpc = RPCS[usize::from(selector / 8) % RPCS.len()];
    let _ = lanyard_api::zitadel::read_rpc_request(content_type, rpc, body);
});
