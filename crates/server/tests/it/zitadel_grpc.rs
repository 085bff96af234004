//! The ZITADEL Session Service v2 over its binary transports: gRPC over HTTP/2 (with tonic, the
//! Rust gRPC client), gRPC-Web (binary and text) and Connect with the protobuf codec, on both
//! stores. Every transport reaches the same RPCs, so these tests check the wire, not the RPCs'
//! semantics (zitadel.rs does that over Connect JSON).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lanyard_proto::google::rpc::Status as RpcStatus;
use lanyard_proto::zitadel::object::v2::ListQuery;
use lanyard_proto::zitadel::session::v2::{self as session, search_query::Query};
use lanyard_proto::zitadel::v1::{ErrorDetail, TimestampQueryMethod};
use lanyard_proto::Message;
use reqwest::Method;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::MetadataValue;
use tonic::{Code, Request};
use tonic_prost::ProstCodec;

use crate::harness::*;
use crate::zitadel::PASSWORD;

const SERVICE: &str = "/zitadel.session.v2.SessionService";

/// A tonic client on one HTTP/2 connection, authenticated with `bearer`.
pub(crate) struct GrpcClient {
    grpc: tonic::client::Grpc<tonic::transport::Channel>,
    bearer: String,
    service: &'static str,
}

impl GrpcClient {
    async fn connect(app: &TestApp, bearer: &str) -> Self {
        Self::connect_to(app, bearer, SERVICE).await
    }

    /// A client of `service` (`/zitadel.user.v2.UserService`).
    pub(crate) async fn connect_to(app: &TestApp, bearer: &str, service: &'static str) -> Self {
        let channel = tonic::transport::Endpoint::from_shared(app.public.clone())
            .expect("endpoint")
            .connect()
            .await
            .expect("an HTTP/2 connection to the public port");
        GrpcClient {
            grpc: tonic::client::Grpc::new(channel),
            bearer: bearer.to_owned(),
            service,
        }
    }

    pub(crate) async fn call<Req, Res>(&mut self, rpc: &str, message: Req) -> Result<Res, tonic::Status>
    where
        Req: Message + Send + Sync + 'static,
        Res: Message + Default + Send + Sync + 'static,
    {
        let mut request = Request::new(message);
        let bearer = format!("Bearer {}", self.bearer);
        request.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(bearer.as_str()).expect("ascii"),
        );
        self.grpc
            .ready()
            .await
            .map_err(|e| tonic::Status::unknown(e.to_string()))?;
        let path = PathAndQuery::try_from(format!("{}/{rpc}", self.service)).expect("path");
        self.grpc
            .unary(request, path, ProstCodec::default())
            .await
            .map(tonic::Response::into_inner)
    }
}

fn checks(login_name: &str) -> session::Checks {
    session::Checks {
        user: Some(session::CheckUser {
            search: Some(session::check_user::Search::LoginName(login_name.to_owned())),
        }),
        password: Some(session::CheckPassword {
            password: PASSWORD.to_owned(),
        }),
        ..Default::default()
    }
}

/// ZITADEL's error id from a status's `grpc-status-details-bin`.
pub(crate) fn error_id(status: &tonic::Status) -> Option<String> {
    let details = RpcStatus::decode(status.details()).ok()?;
    let any = details.details.first()?;
    assert_eq!(any.type_url, "type.googleapis.com/zitadel.v1.ErrorDetail");
    ErrorDetail::decode(any.value.as_ref()).ok().map(|d| d.id)
}

async fn every_rpc_over_grpc(app: TestApp) {
    let (user, email) = app.zitadel_user().await;
    let mut client = GrpcClient::connect(&app, &app.key).await;

    let created: session::CreateSessionResponse = client
        .call(
            "CreateSession",
            session::CreateSessionRequest {
                checks: Some(checks(&email)),
                metadata: [("k".to_owned(), b"value".to_vec())].into(),
                user_agent: Some(session::UserAgent {
                    fingerprint_id: Some("fp-grpc".into()),
                    description: Some("tonic".into()),
                    ..Default::default()
                }),
                lifetime: Some(lanyard_proto::well_known::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                ..Default::default()
            },
        )
        .await
        .expect("CreateSession");
    assert!(created.session_token.starts_with("lanyard_st_"));
    assert!(created
        .details
        .is_some_and(|d| d.sequence > 0 && d.change_date.is_some()));

    let got: session::GetSessionResponse = client
        .call(
            "GetSession",
            session::GetSessionRequest {
                session_id: created.session_id.clone(),
                session_token: None,
            },
        )
        .await
        .expect("GetSession");
    let got = got.session.expect("a session");
    let factors = got.factors.expect("factors");
    assert_eq!(factors.user.map(|u| u.id), Some(user.to_string()));
    assert!(factors.password.is_some_and(|p| p.verified_at.is_some()));
    assert_eq!(got.metadata.get("k").map(|v| v.as_ref()), Some(&b"value"[..]));
    assert_eq!(
        got.user_agent.and_then(|a| a.fingerprint_id).as_deref(),
        Some("fp-grpc")
    );
    let (created_at, expires_at) = (
        got.creation_date.expect("created"),
        got.expiration_date.expect("expires"),
    );
    assert_eq!(expires_at.seconds - created_at.seconds, 3600);

    // Step-up rotates the token: the old one stops working at once.
    let set: session::SetSessionResponse = client
        .call(
            "SetSession",
            session::SetSessionRequest {
                session_id: created.session_id.clone(),
                checks: Some(session::Checks {
                    password: Some(session::CheckPassword {
                        password: PASSWORD.into(),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .expect("SetSession");
    assert!(!set.session_token.is_empty() && set.session_token != created.session_token);
    assert_eq!(app.whoami_status(&created.session_token).await, 401);
    assert_eq!(app.whoami_status(&set.session_token).await, 200);

    // Every query type finds the session; the count comes with the rows.
    let queries = [
        Query::IdsQuery(session::IDsQuery {
            ids: vec![created.session_id.clone()],
        }),
        Query::UserIdQuery(session::UserIdQuery { id: user.to_string() }),
        Query::CreationDateQuery(session::CreationDateQuery {
            creation_date: Some(created_at),
            method: TimestampQueryMethod::GreaterOrEquals as i32,
        }),
        Query::ExpirationDateQuery(session::ExpirationDateQuery {
            expiration_date: Some(expires_at),
            method: TimestampQueryMethod::LessOrEquals as i32,
        }),
        Query::CreatorQuery(session::CreatorQuery { id: None }),
        Query::UserAgentQuery(session::UserAgentQuery {
            fingerprint_id: Some("fp-grpc".into()),
        }),
    ];
    for query in queries {
        let name = format!("{query:?}");
        let listed: session::ListSessionsResponse = client
            .call(
                "ListSessions",
                session::ListSessionsRequest {
                    query: Some(ListQuery {
                        offset: 0,
                        limit: 10,
                        asc: true,
                    }),
                    queries: vec![session::SearchQuery { query: Some(query) }],
                    sorting_column: session::SessionFieldName::CreationDate as i32,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("ListSessions {name}: {e}"));
        assert!(
            listed.sessions.iter().any(|s| s.id == created.session_id),
            "{name} finds the session"
        );
        assert_eq!(
            listed.details.map(|d| d.total_result),
            Some(listed.sessions.len() as u64),
            "{name}"
        );
    }

    let _: session::DeleteSessionResponse = client
        .call(
            "DeleteSession",
            session::DeleteSessionRequest {
                session_id: created.session_id.clone(),
                session_token: None,
            },
        )
        .await
        .expect("DeleteSession");
    let gone = client
        .call::<_, session::GetSessionResponse>(
            "GetSession",
            session::GetSessionRequest {
                session_id: created.session_id.clone(),
                session_token: None,
            },
        )
        .await
        .expect_err("the session is gone");
    assert_eq!(gone.code(), Code::NotFound, "{gone:?}");
    assert_eq!(error_id(&gone).as_deref(), Some("QUERY-SFeaa"));
    assert!(gone.message().ends_with("(QUERY-SFeaa)"), "{}", gone.message());
}

#[tokio::test]
async fn every_rpc_over_grpc_on_sqlite() {
    every_rpc_over_grpc(TestApp::start_on_system_clock().await).await;
}

#[tokio::test]
async fn every_rpc_over_grpc_on_postgres() {
    every_rpc_over_grpc(TestApp::start_on_postgres().await).await;
}

/// v2beta clients (ZITADEL's older SDKs) use their own package's messages and service path.
#[tokio::test]
async fn the_v2beta_service_answers_with_v2beta_messages() {
    use lanyard_proto::zitadel::object::v2beta::ListQuery as BetaListQuery;
    use lanyard_proto::zitadel::session::v2beta as beta;
    let app = TestApp::start_on_system_clock().await;
    let (user, email) = app.zitadel_user().await;
    let mut client = GrpcClient::connect(&app, &app.key).await;
    client.service = "/zitadel.session.v2beta.SessionService";
    let created: beta::CreateSessionResponse = client
        .call(
            "CreateSession",
            beta::CreateSessionRequest {
                checks: Some(beta::Checks {
                    user: Some(beta::CheckUser {
                        search: Some(beta::check_user::Search::LoginName(email.clone())),
                    }),
                    password: Some(beta::CheckPassword {
                        password: PASSWORD.to_owned(),
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .expect("v2beta CreateSession");
    assert!(created.details.is_some_and(|d| d.creation_date.is_some()));
    let listed: beta::ListSessionsResponse = client
        .call(
            "ListSessions",
            beta::ListSessionsRequest {
                query: Some(BetaListQuery {
                    limit: 10,
                    ..Default::default()
                }),
                queries: vec![beta::SearchQuery {
                    query: Some(beta::search_query::Query::UserIdQuery(beta::UserIdQuery {
                        id: user.to_string(),
                    })),
                }],
                ..Default::default()
            },
        )
        .await
        .expect("v2beta ListSessions");
    assert_eq!(listed.details.map(|d| d.total_result), Some(1));
    let session = listed.sessions.first().expect("the session");
    assert_eq!(session.id, created.session_id);
    let factors = session.factors.clone().expect("factors");
    assert_eq!(factors.user.map(|u| u.login_name), Some(email));
    assert!(factors.password.is_some_and(|p| p.verified_at.is_some()));
}

#[tokio::test]
async fn grpc_errors_carry_their_codes_and_zitadel_ids() {
    let app = TestApp::start().await;
    let (_, email) = app.zitadel_user().await;
    let mut anonymous = GrpcClient::connect(&app, "not-a-token").await;
    let denied = anonymous
        .call::<_, session::ListSessionsResponse>("ListSessions", session::ListSessionsRequest::default())
        .await
        .expect_err("a bad bearer");
    assert_eq!(denied.code(), Code::Unauthenticated);
    assert_eq!(error_id(&denied).as_deref(), Some("AUTH-7fs1e"));

    let mut client = GrpcClient::connect(&app, &app.key).await;
    let wrong = client
        .call::<_, session::CreateSessionResponse>(
            "CreateSession",
            session::CreateSessionRequest {
                checks: Some(session::Checks {
                    password: Some(session::CheckPassword {
                        password: "wrong".into(),
                    }),
                    ..checks(&email)
                }),
                ..Default::default()
            },
        )
        .await
        .expect_err("a wrong password");
    assert_eq!(wrong.code(), Code::InvalidArgument);
    assert_eq!(error_id(&wrong).as_deref(), Some("COMMAND-3M0fs"));

    let too_many = client
        .call::<_, session::ListSessionsResponse>(
            "ListSessions",
            session::ListSessionsRequest {
                query: Some(ListQuery {
                    limit: 5000,
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .expect_err("a limit above 1000");
    assert_eq!(too_many.code(), Code::InvalidArgument);
    assert_eq!(error_id(&too_many).as_deref(), Some("QUERY-4M0fs"));

    let unknown = client
        .call::<_, session::GetSessionResponse>("Frobnicate", session::GetSessionRequest::default())
        .await
        .expect_err("an unknown RPC");
    assert_eq!(unknown.code(), Code::Unimplemented);
}

/// A gRPC-Web request body: one message frame.
pub(crate) fn web_frame(message: &impl Message) -> Vec<u8> {
    let bytes = message.encode_to_vec();
    let mut out = vec![0];
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(&bytes);
    out
}

/// Splits a gRPC-Web response body into its message and its trailer frame.
pub(crate) fn web_parts(body: &[u8]) -> (Vec<u8>, String) {
    let mut message = Vec::new();
    let mut trailers = String::new();
    let mut rest = body;
    while rest.len() >= 5 {
        let length = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let payload = &rest[5..5 + length];
        if rest[0] & 0x80 != 0 {
            trailers = String::from_utf8_lossy(payload).into_owned();
        } else {
            message = payload.to_vec();
        }
        rest = &rest[5 + length..];
    }
    assert!(rest.is_empty(), "no bytes after the frames");
    (message, trailers)
}

#[tokio::test]
async fn grpc_web_and_connect_proto_reach_the_same_rpcs_over_http1() {
    let app = TestApp::start().await;
    let (_, email) = app.zitadel_user().await;
    let create = session::CreateSessionRequest {
        checks: Some(checks(&email)),
        ..Default::default()
    };
    let path = format!("{SERVICE}/CreateSession");

    // gRPC-Web, binary.
    let response = app
        .public(Method::POST, &path)
        .bearer_auth(&app.key)
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(web_frame(&create))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/grpc-web+proto");
    let (message, trailers) = web_parts(&response.bytes().await.expect("body"));
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    let created = session::CreateSessionResponse::decode(message.as_slice()).expect("a response message");
    assert!(created.session_token.starts_with("lanyard_st_"));

    // gRPC-Web, text (base64), as browsers without binary support send it.
    let get = session::GetSessionRequest {
        session_id: created.session_id.clone(),
        session_token: None,
    };
    let response = app
        .public(Method::POST, &format!("{SERVICE}/GetSession"))
        .bearer_auth(&app.key)
        .header("content-type", "application/grpc-web-text")
        .body(STANDARD.encode(web_frame(&get)))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("body");
    let (message, trailers) = web_parts(&STANDARD.decode(text.trim()).expect("base64"));
    assert!(trailers.contains("grpc-status:0"), "{trailers}");
    let got = session::GetSessionResponse::decode(message.as_slice()).expect("a response message");
    assert_eq!(got.session.map(|s| s.id), Some(created.session_id.clone()));

    // A gRPC-Web error: the status in the headers, ZITADEL's id in the details.
    let response = app
        .public(Method::POST, &format!("{SERVICE}/GetSession"))
        .bearer_auth(&app.key)
        .header("content-type", "application/grpc-web+proto")
        .body(web_frame(&session::GetSessionRequest {
            session_id: "no-such-session".into(),
            session_token: None,
        }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-status"], "5");
    let details = response.headers()["grpc-status-details-bin"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let details = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(details)
        .expect("base64");
    let status = RpcStatus::decode(details.as_slice()).expect("google.rpc.Status");
    let detail = ErrorDetail::decode(status.details[0].value.as_ref()).expect("ErrorDetail");
    assert_eq!(detail.id, "QUERY-SFeaa");

    // Connect with the protobuf codec: the bare message both ways, errors as Connect JSON.
    let response = app
        .public(Method::POST, &format!("{SERVICE}/GetSession"))
        .bearer_auth(&app.key)
        .header("content-type", "application/proto")
        .body(get.encode_to_vec())
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/proto");
    let got = session::GetSessionResponse::decode(response.bytes().await.expect("body")).expect("message");
    assert_eq!(got.session.map(|s| s.id), Some(created.session_id));
    let (status, body) = exchange(
        app.public(Method::POST, &format!("{SERVICE}/GetSession"))
            .bearer_auth(&app.key)
            .header("content-type", "application/proto")
            .body(vec![0xff, 0xff, 0xff]),
    )
    .await;
    assert_connect_error(status, &body, 400, "invalid_argument");
}

#[tokio::test]
async fn malformed_grpc_input_gets_a_grpc_error_never_a_5xx() {
    let app = TestApp::start().await;
    let path = format!("{SERVICE}/GetSession");
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("application/grpc-web", vec![0, 0, 0], "3"),
        ("application/grpc-web", vec![0, 0, 0, 0, 9, 1], "3"),
        ("application/grpc-web", vec![1, 0, 0, 0, 1, 0], "12"),
        ("application/grpc-web-text", b"!!!!".to_vec(), "3"),
        ("application/grpc-web", vec![0, 0, 0, 0, 3, 0xff, 0xff, 0xff], "3"),
    ];
    for (content_type, body, code) in cases {
        let response = app
            .public(Method::POST, &path)
            .bearer_auth(&app.key)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{content_type} {body:?}");
        assert_eq!(response.headers()["grpc-status"], code, "{content_type} {body:?}");
        assert!(response.headers().contains_key("grpc-message"));
    }
    let (status, body) = exchange(
        app.public(Method::POST, &path)
            .bearer_auth(&app.key)
            .header("content-type", "application/grpc+json")
            .body("{}"),
    )
    .await;
    assert_eq!(status, 415, "{body}");

    // A gRPC client on HTTP/1.1 cannot receive trailers: it is told so in the headers.
    let response = app
        .public(Method::POST, &path)
        .bearer_auth(&app.key)
        .header("content-type", "application/grpc")
        .body(web_frame(&session::GetSessionRequest::default()))
        .send()
        .await
        .expect("request");
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.headers()["grpc-status"], "12");
    let message = response.headers()["grpc-message"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("HTTP%2F2") || message.contains("HTTP/2"), "{message}");
}
