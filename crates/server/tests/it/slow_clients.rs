//! Slow and idle clients cannot hold the server: a request's headers must arrive within
//! `serve.header_read_timeout`, and connections beyond `serve.max_connections` wait instead of
//! exhausting the process.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lanyard::app::RunningServer;
use lanyard_service::SystemClock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server(max_connections: usize, header_read_timeout: &str) -> (RunningServer, tempfile::TempDir) {
    server_with(&format!(
        "max_connections = {max_connections}\nheader_read_timeout = \"{header_read_timeout}\"\n"
    ))
    .await
}

/// A server on a fresh SQLite file with these `[serve]` settings, on loopback ports.
pub(crate) async fn server_with(serve_settings: &str) -> (RunningServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = lanyard::Config::from_toml_str(&format!(
        "[database]\nurl = \"sqlite://{}\"\n\
         [serve]\n{serve_settings}\n\
         [serve.public]\nlisten = \"127.0.0.1:0\"\n[serve.admin]\nlisten = \"127.0.0.1:0\"\n",
        dir.path().join("lanyard.db").display()
    ))
    .expect("config");
    let running = lanyard::start(&config, Arc::new(SystemClock)).await.expect("start");
    (running, dir)
}

/// Opens a connection and sends the start of a request whose headers never end.
async fn stalled_request(server: &RunningServer) -> TcpStream {
    let mut stream = TcpStream::connect(server.public_addr).await.expect("connect");
    stream
        .write_all(b"GET /health/alive HTTP/1.1\r\nHost: lanyard\r\n")
        .await
        .expect("write");
    stream
}

/// Waits until the server closes `stream` (EOF or reset), at most `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let mut buffer = [0u8; 512];
    let read = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(limit, read).await.is_ok()
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    let (server, _dir) = server(64, "1s").await;
    let mut stream = stalled_request(&server).await;
    let started = Instant::now();
    // One header line every 200 ms: the connection is never idle, the headers never complete.
    let (mut reader, mut writer) = stream.split();
    let trickle = async {
        for n in 0..50 {
            if writer.write_all(format!("x-slow-{n}: 1\r\n").as_bytes()).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let closed = async {
        let mut buffer = [0u8; 512];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::select! {
        () = trickle => panic!("the server kept a trickling connection for 10 s"),
        () = closed => {}
    }
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "closed too early: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "closed too late: {elapsed:?}");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_slot_and_are_then_served() {
    let (server, _dir) = server(3, "1s").await;
    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(stalled_request(&server).await);
    }
    // All slots are held by stalled clients: a well-behaved one waits for the first to be cut.
    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(format!("http://{}/health/alive", server.public_addr))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("served once a slot frees");
    assert_eq!(response.status(), 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(500),
        "the limit did not apply: {waited:?}"
    );
    for stream in &mut stalled {
        assert!(closed_within(stream, Duration::from_secs(3)).await);
    }
    server.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_header_timeout() {
    let (server, _dir) = server(64, "1s").await;
    let mut stream = TcpStream::connect(server.public_addr).await.expect("connect");
    stream
        .write_all(b"GET /health/alive HTTP/1.1\r\nHost: lanyard\r\n\r\n")
        .await
        .expect("write");
    let mut buffer = [0u8; 1024];
    let read = stream.read(&mut buffer).await.expect("response");
    assert!(
        buffer[..read].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&buffer[..read])
    );
    // The connection is kept alive, but not forever.
    assert!(closed_within(&mut stream, Duration::from_secs(4)).await);
}

#[tokio::test]
async fn a_client_that_stalls_inside_the_http2_preface_or_sends_nothing_is_cut_off() {
    let (server, _dir) = server(64, "1s").await;
    let mut silent = TcpStream::connect(server.public_addr).await.expect("connect");
    let mut half_preface = TcpStream::connect(server.public_addr).await.expect("connect");
    half_preface.write_all(b"PRI * HTTP/2.0\r\n").await.expect("write");
    let started = Instant::now();
    assert!(
        closed_within(&mut silent, Duration::from_secs(4)).await,
        "a silent connection stayed open"
    );
    assert!(
        closed_within(&mut half_preface, Duration::from_secs(4)).await,
        "a connection stalled in the HTTP/2 preface stayed open"
    );
    assert!(started.elapsed() >= Duration::from_millis(900), "closed too early");
}

#[tokio::test]
async fn the_public_port_speaks_http2_with_prior_knowledge_and_http1_on_one_listener() {
    let (server, _dir) = server(64, "10s").await;
    let url = format!("http://{}/health/alive", server.public_addr);
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let response = h2.get(&url).send().await.expect("an HTTP/2 request");
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let response = reqwest::get(&url).await.expect("an HTTP/1.1 request");
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.status(), 200);
}
