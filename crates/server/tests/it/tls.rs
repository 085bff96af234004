//! TLS on both ports: HTTP/1.1 and HTTP/2 chosen by ALPN, gRPC over TLS, TLS 1.2 and 1.3,
//! certificates swapped on reload (and on SIGHUP, in the real binary) without dropping open
//! connections, and a stalled handshake closed like a stalled request head.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lanyard::app::{start, RunningServer};
use lanyard::config::Config;
use lanyard_proto::zitadel::session::v2 as session;
use lanyard_service::SystemClock;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};
use tonic::Code;
use tonic_prost::ProstCodec;

/// A self-signed certificate for 127.0.0.1, written as PEM files under `dir`.
pub(crate) struct TestCertificate {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl TestCertificate {
    pub(crate) fn new() -> Self {
        let generated = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("a test certificate");
        TestCertificate {
            cert_pem: generated.cert.pem(),
            key_pem: generated.signing_key.serialize_pem(),
            der: generated.cert.der().clone(),
        }
    }

    fn install(&self, cert_file: &Path, key_file: &Path) {
        std::fs::write(cert_file, &self.cert_pem).expect("write the certificate");
        std::fs::write(key_file, &self.key_pem).expect("write the key");
    }

    /// An HTTPS client that trusts only this certificate.
    fn client(&self, http1_only: bool) -> reqwest::Client {
        let root = reqwest::Certificate::from_pem(self.cert_pem.as_bytes()).expect("a PEM certificate");
        let builder = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(root)
            .use_rustls_tls();
        let builder = if http1_only { builder.http1_only() } else { builder };
        builder.build().expect("an HTTPS client")
    }
}

pub(crate) struct TlsServer {
    pub(crate) server: RunningServer,
    pub(crate) cert_file: PathBuf,
    key_file: PathBuf,
    _dir: tempfile::TempDir,
}

pub(crate) async fn start_tls(certificate: &TestCertificate, extra_toml: &str) -> TlsServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    certificate.install(&cert_file, &key_file);
    let config = Config::from_toml_str(&format!(
        "[database]\nurl = \"sqlite://{db}\"\n\
         [serve]\n{extra_toml}\n\
         [serve.public]\nlisten = \"127.0.0.1:0\"\n\
         [serve.public.tls]\ncert_file = \"{cert}\"\nkey_file = \"{key}\"\n\
         [serve.admin]\nlisten = \"127.0.0.1:0\"\n\
         [serve.admin.tls]\ncert_file = \"{cert}\"\nkey_file = \"{key}\"\n",
        db = dir.path().join("lanyard.db").display(),
        cert = cert_file.display(),
        key = key_file.display(),
    ))
    .expect("a TLS configuration");
    let server = start(&config, Arc::new(SystemClock)).await.expect("lanyard with TLS");
    TlsServer {
        server,
        cert_file,
        key_file,
        _dir: dir,
    }
}

#[tokio::test]
async fn both_ports_serve_http1_and_http2_over_tls() {
    let certificate = TestCertificate::new();
    let tls = start_tls(&certificate, "").await;
    assert!(tls.server.public_url().starts_with("https://"));
    for base in [tls.server.public_url(), tls.server.admin_url()] {
        let response = certificate
            .client(true)
            .get(format!("{base}health/alive"))
            .send()
            .await
            .expect("HTTPS over HTTP/1.1");
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), reqwest::Version::HTTP_11);

        let response = certificate
            .client(false)
            .get(format!("{base}health/alive"))
            .send()
            .await
            .expect("HTTPS with ALPN");
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), reqwest::Version::HTTP_2, "ALPN offers h2 first");
    }
    // Cleartext on a TLS port is not served.
    let cleartext = reqwest::get(format!("http://{}/health/alive", tls.server.public_addr)).await;
    assert!(cleartext.is_err() || cleartext.is_ok_and(|r| r.status() != 200));
}

#[tokio::test]
async fn grpc_clients_reach_the_session_service_over_tls() {
    let certificate = TestCertificate::new();
    let tls = start_tls(&certificate, "").await;
    let channel = Endpoint::from_shared(format!("https://{}", tls.server.public_addr))
        .expect("endpoint")
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&certificate.cert_pem))
                .domain_name("localhost"),
        )
        .expect("TLS config")
        .connect()
        .await
        .expect("gRPC over TLS connects");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path = PathAndQuery::from_static("/zitadel.session.v2.SessionService/ListSessions");
    let status = grpc
        .unary::<_, session::ListSessionsResponse, _>(
            tonic::Request::new(session::ListSessionsRequest::default()),
            path,
            ProstCodec::default(),
        )
        .await
        .expect_err("no credentials");
    // The service answered (not the transport): gRPC over TLS reaches the RPC.
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(!status.message().is_empty());
}

/// The chain the server presents to a new handshake, with the TLS version it chose.
async fn served_certificate(
    addr: std::net::SocketAddr,
    trusted: &TestCertificate,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<(CertificateDer<'static>, rustls::ProtocolVersion), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(trusted.der.clone()).map_err(|e| e.to_string())?;
    #[allow(deprecated)] // ring, as the server uses (src/tls.rs)
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let stream = connector.connect(name, stream).await.map_err(|e| e.to_string())?;
    let connection = stream.get_ref().1;
    let chain = connection.peer_certificates().ok_or("no certificate")?;
    let version = connection.protocol_version().ok_or("no version")?;
    Ok((chain[0].clone(), version))
}

#[tokio::test]
async fn tls_1_2_and_1_3_are_both_accepted() {
    let certificate = TestCertificate::new();
    let tls = start_tls(&certificate, "").await;
    let addr = tls.server.public_addr;
    let (_, version) = served_certificate(addr, &certificate, &[&rustls::version::TLS12])
        .await
        .expect("TLS 1.2");
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_2);
    let (_, version) = served_certificate(addr, &certificate, &[&rustls::version::TLS13])
        .await
        .expect("TLS 1.3");
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);
}

#[tokio::test]
async fn a_reload_swaps_the_certificate_without_dropping_open_connections() {
    let (old, new) = (TestCertificate::new(), TestCertificate::new());
    let tls = start_tls(&old, "").await;
    let base = tls.server.public_url();
    // One keep-alive connection, opened under the old certificate.
    let open = old.client(true);
    assert_eq!(
        open.get(format!("{base}health/alive"))
            .send()
            .await
            .expect("first request")
            .status(),
        200
    );

    new.install(&tls.cert_file, &tls.key_file);
    let certificates = tls.server.certificates();
    assert_eq!(certificates.len(), 2, "both ports serve TLS");
    for (key, certificate) in &certificates {
        certificate.reload().unwrap_or_else(|e| panic!("{key}: {e}"));
    }

    // The open connection carries on: it does not handshake again, so its client, which
    // trusts only the old certificate, still gets answers.
    for _ in 0..3 {
        let response = open
            .get(format!("{base}health/alive"))
            .send()
            .await
            .expect("the open connection");
        assert_eq!(response.status(), 200);
    }
    let (served, _) = served_certificate(tls.server.public_addr, &new, &[&rustls::version::TLS13])
        .await
        .expect("new handshakes get the new certificate");
    assert_eq!(served, new.der);
    assert!(
        served_certificate(tls.server.public_addr, &old, &[&rustls::version::TLS13])
            .await
            .is_err(),
        "the old certificate is no longer served"
    );

    // A broken key file is refused; the certificate in use stays.
    std::fs::write(&tls.key_file, "not a key").expect("write");
    let error = certificates[0].1.reload().expect_err("a broken key");
    assert!(error.to_string().contains("key.pem"), "{error}");
    let (served, _) = served_certificate(tls.server.public_addr, &new, &[&rustls::version::TLS13])
        .await
        .expect("still the new certificate");
    assert_eq!(served, new.der);
}

#[tokio::test]
async fn a_client_that_stalls_the_handshake_is_closed() {
    let certificate = TestCertificate::new();
    let tls = start_tls(&certificate, "header_read_timeout = \"1s\"").await;
    let mut stream = TcpStream::connect(tls.server.public_addr).await.expect("connect");
    let started = Instant::now();
    let mut buffer = [0_u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
        .await
        .expect("the server closes the connection well before 10 s");
    assert!(matches!(read, Ok(0) | Err(_)), "closed, not answered: {read:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
}

#[tokio::test]
async fn a_missing_certificate_file_fails_start_up_naming_the_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::from_toml_str(&format!(
        "[database]\nurl = \"sqlite://{db}\"\n\
         [serve.public]\nlisten = \"127.0.0.1:0\"\n\
         [serve.public.tls]\ncert_file = \"{missing}\"\nkey_file = \"{missing}\"\n\
         [serve.admin]\nlisten = \"127.0.0.1:0\"\n",
        db = dir.path().join("lanyard.db").display(),
        missing = dir.path().join("nowhere.pem").display(),
    ))
    .expect("config");
    let error = start(&config, Arc::new(SystemClock))
        .await
        .err()
        .expect("no certificate, no start");
    let message = format!("{error:#}");
    assert!(
        message.contains("serve.public.tls") && message.contains("nowhere.pem"),
        "{message}"
    );
}

/// The real binary reloads its certificate on SIGHUP and keeps serving.
#[tokio::test]
async fn sighup_makes_the_binary_serve_the_renewed_certificate() {
    let (old, new) = (TestCertificate::new(), TestCertificate::new());
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    old.install(&cert_file, &key_file);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lanyard"))
        .env(
            "LANYARD_DATABASE__URL",
            format!("sqlite://{}", dir.path().join("lanyard.db").display()),
        )
        .env("LANYARD_SERVE__PUBLIC__TLS__CERT_FILE", &cert_file)
        .env("LANYARD_SERVE__PUBLIC__TLS__KEY_FILE", &key_file)
        .env("LANYARD_LOG__LEVEL", "warn")
        .env_remove("LANYARD_CONFIG")
        .args([
            "serve",
            "--public-listen",
            &format!("127.0.0.1:{port}"),
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .stdin(Stdio::null())
        .spawn()
        .expect("start lanyard serve");
    let _kill = KillOnDrop(child.id());
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("address");
    let ready = wait_for(|| async { served_certificate(addr, &old, &[&rustls::version::TLS13]).await.is_ok() }).await;
    assert!(ready, "lanyard serves the first certificate");

    new.install(&cert_file, &key_file);
    let status = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    let renewed = wait_for(|| async {
        served_certificate(addr, &new, &[&rustls::version::TLS13])
            .await
            .is_ok_and(|(served, _)| served == new.der)
    })
    .await;
    assert!(renewed, "after SIGHUP new handshakes get the renewed certificate");
    assert!(
        child.try_wait().expect("status").is_none(),
        "SIGHUP does not stop the server"
    );
    let _ = child.kill();
    let _ = child.wait();
}

async fn wait_for<F, Fut>(mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if probe().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-9", &self.0.to_string()]).status();
    }
}
