//! The ZITADEL transports compared on the same calls, in one run: GetSession and ListSessions
//! (100 sessions) over Connect with JSON (HTTP/1.1, what the Python SDK sends), Connect with the
//! protobuf codec (HTTP/1.1) and gRPC (tonic, HTTP/2). wrk speaks neither HTTP/2 nor binary
//! bodies, so the load comes from in-process tasks, one connection each, for every transport
//! alike; they share the machine with the server, so compare the rows with each other.

use std::time::Duration;

use lanyard_proto::zitadel::object::v2::ListQuery;
use lanyard_proto::zitadel::session::v2 as session;
use lanyard_proto::Message;
use tonic::codegen::http::uri::PathAndQuery;

use crate::closed_loop::{self, Outcome};
use crate::wrk::Measurement;

const SERVICE: &str = "/zitadel.session.v2.SessionService";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    ConnectJson,
    ConnectProto,
    Grpc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    GetSession,
    /// ListSessions with no query, limit 100.
    ListSessions,
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::ConnectJson, Transport::ConnectProto, Transport::Grpc];

    pub fn key(self) -> &'static str {
        match self {
            Transport::ConnectJson => "connect_json",
            Transport::ConnectProto => "connect_proto",
            Transport::Grpc => "grpc",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Transport::ConnectJson => "Connect JSON, HTTP/1.1",
            Transport::ConnectProto => "Connect protobuf, HTTP/1.1",
            Transport::Grpc => "gRPC (tonic), HTTP/2",
        }
    }
}

impl Call {
    pub fn key(self) -> &'static str {
        match self {
            Call::GetSession => "get",
            Call::ListSessions => "list",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Call::GetSession => "GetSession",
            Call::ListSessions => "ListSessions (no query, limit 100)",
        }
    }

    fn rpc(self) -> &'static str {
        match self {
            Call::GetSession => "GetSession",
            Call::ListSessions => "ListSessions",
        }
    }

    fn message(self, session_id: &str) -> Vec<u8> {
        match self {
            Call::GetSession => session::GetSessionRequest {
                session_id: session_id.to_owned(),
                session_token: None,
            }
            .encode_to_vec(),
            Call::ListSessions => list_request().encode_to_vec(),
        }
    }

    fn json(self, session_id: &str) -> String {
        match self {
            Call::GetSession => format!(r#"{{"sessionId":"{session_id}"}}"#),
            Call::ListSessions => r#"{"query":{"limit":100}}"#.to_owned(),
        }
    }
}

fn list_request() -> session::ListSessionsRequest {
    session::ListSessionsRequest {
        query: Some(ListQuery {
            limit: 100,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The id of the newest session, for GetSession.
pub async fn a_session_id(public: &str, key: &str) -> anyhow::Result<String> {
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!("{public}{SERVICE}/ListSessions"))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(r#"{"query":{"limit":1}}"#)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    response["sessions"][0]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("ListSessions found no session to get: {response}"))
}

/// Runs `call` over `transport` from `connections` tasks for `duration`.
pub async fn measure(
    transport: Transport,
    call: Call,
    public: &str,
    key: &str,
    session_id: &str,
    connections: u32,
    duration: Duration,
) -> anyhow::Result<Measurement> {
    let mut workers = Vec::new();
    for _ in 0..connections.max(1) {
        workers.push(CallWorker {
            caller: Caller::connect(transport, public, key).await?,
            call,
            session_id: session_id.to_owned(),
            json: call.json(session_id),
            message: call.message(session_id),
        });
    }
    closed_loop::run(workers, duration).await
}

/// One connection making one call over and over.
struct CallWorker {
    caller: Caller,
    call: Call,
    session_id: String,
    json: String,
    message: Vec<u8>,
}

impl closed_loop::Worker for CallWorker {
    async fn call(&mut self) -> anyhow::Result<Outcome> {
        let ok = self
            .caller
            .call(self.call, &self.session_id, &self.json, &self.message)
            .await;
        Ok(if ok { Outcome::Answered } else { Outcome::Wrong })
    }
}

/// One connection of one transport.
enum Caller {
    Http1 {
        client: reqwest::Client,
        url_base: String,
        bearer: String,
        binary: bool,
    },
    Grpc {
        grpc: tonic::client::Grpc<tonic::transport::Channel>,
        bearer: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    },
}

impl Caller {
    async fn connect(transport: Transport, public: &str, key: &str) -> anyhow::Result<Caller> {
        let bearer = format!("Bearer {key}");
        Ok(match transport {
            Transport::ConnectJson | Transport::ConnectProto => Caller::Http1 {
                // One connection per task: a pool of one.
                client: reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .http1_only()
                    .build()?,
                url_base: format!("{public}{SERVICE}"),
                bearer,
                binary: transport == Transport::ConnectProto,
            },
            Transport::Grpc => {
                let channel = tonic::transport::Endpoint::from_shared(public.to_owned())?
                    .connect()
                    .await?;
                Caller::Grpc {
                    grpc: tonic::client::Grpc::new(channel),
                    bearer: bearer.parse()?,
                }
            }
        })
    }

    /// Makes the call and reads the whole answer; whether it succeeded.
    async fn call(&mut self, call: Call, session_id: &str, json: &str, message: &[u8]) -> bool {
        match self {
            Caller::Http1 {
                client,
                url_base,
                bearer,
                binary,
            } => {
                let (content_type, body) = if *binary {
                    ("application/proto", message.to_vec())
                } else {
                    ("application/json", json.as_bytes().to_vec())
                };
                let sent = client
                    .post(format!("{url_base}/{}", call.rpc()))
                    .header("authorization", bearer.as_str())
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => response.bytes().await.is_ok(),
                    _ => false,
                }
            }
            Caller::Grpc { grpc, bearer } => {
                if grpc.ready().await.is_err() {
                    return false;
                }
                let Ok(path) = PathAndQuery::try_from(format!("{SERVICE}/{}", call.rpc())) else {
                    return false;
                };
                match call {
                    Call::GetSession => {
                        let request = session::GetSessionRequest {
                            session_id: session_id.to_owned(),
                            session_token: None,
                        };
                        unary::<_, session::GetSessionResponse>(grpc, bearer, path, request).await
                    }
                    Call::ListSessions => {
                        unary::<_, session::ListSessionsResponse>(grpc, bearer, path, list_request()).await
                    }
                }
            }
        }
    }
}

async fn unary<Req, Res>(
    grpc: &mut tonic::client::Grpc<tonic::transport::Channel>,
    bearer: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    path: PathAndQuery,
    message: Req,
) -> bool
where
    Req: Message + Send + Sync + 'static,
    Res: Message + Default + Send + Sync + 'static,
{
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", bearer.clone());
    grpc.unary::<Req, Res, _>(request, path, tonic_prost::ProstCodec::default())
        .await
        .is_ok()
}
