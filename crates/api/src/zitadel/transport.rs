//! The RPC paths of every ZITADEL service Lanyard serves (`/<package>.<Service>/<Rpc>`), over
//! gRPC, gRPC-Web (binary and text) and Connect with the JSON or the protobuf codec, and the
//! REST paths' way of running an RPC. A service says how to read its requests and run them
//! ([`Service`]); everything a transport does is written once, here.

use std::future::Future;
use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use lanyard_service::Principal;

use super::error::{self, Transport, ZitadelError};
use super::grpc;
use super::protocol::Protocol;
use crate::client::ClientIp;
use crate::AppState;

/// A ZITADEL service: its RPCs, how their requests are read, and how they run.
pub(crate) trait Service: 'static {
    /// The RPC's name, parsed.
    type Rpc: Copy + Send;
    type Request: Send;
    type Reply: Answer + Send;

    /// The service's path prefixes (`/zitadel.session.v2.SessionService/`, and those of the
    /// versions served alike).
    const PATHS: &'static [&'static str];

    fn rpc(name: &str) -> Option<Self::Rpc>;
    /// Reads a proto3 JSON body (REST, Connect JSON); an empty body is an empty message.
    fn from_json(rpc: Self::Rpc, body: &[u8]) -> Result<Self::Request, ZitadelError>;
    /// Reads a binary protobuf message (gRPC, gRPC-Web, Connect proto).
    fn from_proto(rpc: Self::Rpc, body: &[u8]) -> Result<Self::Request, ZitadelError>;
    /// Runs a decoded request for an authenticated caller: the same function for every
    /// transport.
    fn call(
        state: &AppState,
        caller: &Principal,
        client_ip: Option<IpAddr>,
        request: Self::Request,
    ) -> impl Future<Output = Result<Self::Reply, ZitadelError>> + Send;
}

/// An RPC's answer, ready to be encoded.
pub(crate) trait Answer {
    /// The number of rows it carries: a thousand take a while to encode.
    fn rows(&self) -> usize {
        0
    }
    fn to_proto(&self) -> Vec<u8>;
    fn to_json(&self) -> Result<Vec<u8>, ZitadelError>;
    /// Whether REST answers it with 201 Created (grpc-gateway's `success_code`).
    fn created(&self) -> bool {
        false
    }
}

/// Authenticates the caller and runs the RPC: its answer, or the error to render.
async fn answer<S: Service>(
    state: &AppState,
    headers: &HeaderMap,
    peer: ClientIp,
    request: Result<S::Request, ZitadelError>,
) -> Result<S::Reply, ZitadelError> {
    let caller = super::rpc::authenticate(state, headers).await?;
    S::call(state, &caller, peer.0, request?).await
}

/// Runs an RPC that arrived on a REST path and answers in grpc-gateway's JSON.
pub(crate) async fn run_rest<S: Service>(
    state: AppState,
    headers: HeaderMap,
    peer: ClientIp,
    request: Result<S::Request, ZitadelError>,
) -> Response {
    match answer::<S>(&state, &headers, peer, request).await {
        Ok(reply) => json_response(&reply, Transport::Rest),
        Err(error) => error.render(Transport::Rest),
    }
}

fn json_response(reply: &impl Answer, transport: Transport) -> Response {
    let status = if transport == Transport::Rest && reply.created() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    match crate::render::render_list(reply.rows(), || reply.to_json()) {
        Ok(body) => (status, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(error) => error.render(transport),
    }
}

/// How errors travel for a protocol: gRPC and gRPC-Web by their content types, Connect (JSON
/// errors for either codec) otherwise.
pub(crate) fn transport_of(protocol: &Protocol) -> Transport {
    match protocol {
        Protocol::Grpc => Transport::Grpc,
        Protocol::GrpcWeb => Transport::GrpcWeb,
        Protocol::GrpcWebText => Transport::GrpcWebText,
        Protocol::ConnectJson | Protocol::ConnectProto | Protocol::Unsupported(_) => Transport::Connect,
    }
}

pub(crate) fn unknown(name: &str) -> ZitadelError {
    ZitadelError::new(
        error::Code::Unimplemented,
        "LANYARD-unimplemented",
        format!("unknown RPC {name}"),
    )
}

/// Reads a request body as `protocol` carries it.
pub(crate) fn decode<S: Service>(protocol: &Protocol, rpc: S::Rpc, body: &[u8]) -> Result<S::Request, ZitadelError> {
    match protocol {
        Protocol::ConnectJson => S::from_json(rpc, body),
        Protocol::ConnectProto => S::from_proto(rpc, body),
        Protocol::Unsupported(content_type) => Err(ZitadelError::invalid(format!(
            "unsupported content type {content_type}"
        ))),
        _ => grpc::unframe(protocol, body).and_then(|message| S::from_proto(rpc, &message)),
    }
}

/// `POST /<package>.<Service>/<Rpc>`: gRPC, gRPC-Web (binary and text) and Connect unary with
/// the JSON or the protobuf codec, told apart by the content type.
pub(crate) async fn rpc_path<S: Service>(
    State(state): State<AppState>,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    peer: ClientIp,
    body: Bytes,
) -> Response {
    let protocol = Protocol::of(&headers);
    let transport = transport_of(&protocol);
    if protocol == Protocol::Grpc && version < Version::HTTP_2 {
        // gRPC's trailers need HTTP/2; say so in the headers, which any client reads.
        return ZitadelError::new(
            error::Code::Unimplemented,
            "LANYARD-grpc-http1",
            "gRPC needs HTTP/2 (prior knowledge, or ALPN h2 over TLS); over HTTP/1.1 use gRPC-Web or Connect",
        )
        .render(transport);
    }
    // The router sends only the service's RPC paths here, so the last segment is an RPC's name.
    let name = uri.path().rsplit('/').next().unwrap_or_default();
    let Some(rpc) = S::rpc(name) else {
        return unknown(name).render(transport);
    };
    if let Protocol::Unsupported(content_type) = &protocol {
        let mut response = ZitadelError::new(
            error::Code::Unimplemented,
            "LANYARD-codec",
            format!(
                "content type {content_type:?} is not supported; Lanyard speaks gRPC, gRPC-Web and \
                 Connect (application/json or application/proto)"
            ),
        )
        .render(transport);
        *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return response;
    }
    let deadline = match protocol.deadline(&headers) {
        Ok(deadline) => deadline,
        Err(error) => return error.render(transport),
    };
    let request = decode::<S>(&protocol, rpc, &body);
    let answered = answer::<S>(&state, &headers, peer, request);
    let result = match deadline {
        None => answered.await,
        Some(deadline) => tokio::time::timeout(deadline, answered).await.unwrap_or_else(|_| {
            Err(ZitadelError::new(
                error::Code::DeadlineExceeded,
                "LANYARD-deadline",
                format!("the call did not finish within its deadline of {deadline:?}"),
            ))
        }),
    };
    let reply = match result {
        Ok(reply) => reply,
        Err(error) => return error.render(transport),
    };
    if protocol == Protocol::ConnectJson {
        return json_response(&reply, transport);
    }
    let message = crate::render::render_list(reply.rows(), || reply.to_proto());
    match &protocol {
        Protocol::ConnectProto => ([(axum::http::header::CONTENT_TYPE, "application/proto")], message).into_response(),
        _ => grpc::ok(&protocol, &message),
    }
}
