//! HTTP/2 clients that abuse flow control and streams: a window that never opens, more
//! streams than the server allows, streams reset as fast as they are opened. Each gets a
//! protocol-level refusal or a closed connection, and everyone else goes on being served.

use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use h2::Reason;
use lanyard::app::RunningServer;
use tokio::net::TcpStream;

use crate::slow_clients::server_with;

/// An HTTP/2 connection (prior knowledge) and a handle that resolves when it ends.
async fn connect(
    server: &RunningServer,
    builder: h2::client::Builder,
) -> (SendRequest<Bytes>, tokio::task::JoinHandle<Result<(), h2::Error>>) {
    let tcp = TcpStream::connect(server.public_addr).await.expect("connect");
    let (send, connection) = builder.handshake(tcp).await.expect("HTTP/2 handshake");
    (send, tokio::spawn(connection))
}

fn health(server: &RunningServer) -> http::Request<()> {
    http::Request::get(format!("http://{}/health/alive", server.public_addr))
        .body(())
        .expect("request")
}

/// A well-behaved client on its own connection gets an answer in time.
async fn others_are_served(server: &RunningServer) {
    let (send, _connection) = connect(server, h2::client::Builder::new()).await;
    let mut send = send.ready().await.expect("ready");
    let (response, _) = send.send_request(health(server), true).expect("send");
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("an answer within 5 s")
        .expect("a response");
    assert_eq!(response.status(), 200);
}

/// Requests the public OpenAPI document (well over one 16 KiB chunk) with a stream window of
/// `window` bytes that the client never releases, and returns when the connection ended.
async fn stall_a_large_answer(server: &RunningServer, window: u32) -> Result<Duration, String> {
    let mut builder = h2::client::Builder::new();
    builder.initial_window_size(window);
    let (send, connection) = connect(server, builder).await;
    let started = Instant::now();
    let mut send = send.ready().await.map_err(|e| e.to_string())?;
    let request = http::Request::get(format!("http://{}/openapi.json", server.public_addr))
        .body(())
        .map_err(|e| e.to_string())?;
    let (response, _) = send.send_request(request, true).map_err(|e| e.to_string())?;
    let response = response.await.map_err(|e| e.to_string())?;
    if response.status() != 200 {
        return Err(format!("status {}", response.status()));
    }
    let _unread_body = response.into_body();
    others_are_served(server).await;
    let _ended = tokio::time::timeout(Duration::from_secs(8), connection)
        .await
        .map_err(|_| "the stalled connection was still open after 8 s".to_owned())?;
    Ok(started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_opens_its_window_is_closed_after_the_request_timeout() {
    let (server, _dir) = server_with("request_timeout = \"2s\"\n").await;
    for window in [0, 1] {
        let waited = stall_a_large_answer(&server, window).await;
        let waited = waited.unwrap_or_else(|problem| panic!("window {window}: {problem}"));
        assert!(
            waited >= Duration::from_millis(1900),
            "window {window}: closed after {waited:?}, before the timeout"
        );
    }
    others_are_served(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_streams_than_allowed_wait_their_turn_and_are_all_answered() {
    let (server, _dir) = server_with("").await;
    let (send, _connection) = connect(&server, h2::client::Builder::new()).await;
    // The first answer means the server's SETTINGS have arrived.
    let mut ready = send.clone().ready().await.expect("ready");
    let (first, _) = ready.send_request(health(&server), true).expect("send");
    assert_eq!(first.await.expect("response").status(), 200);
    assert_eq!(send.current_max_send_streams(), 256, "the advertised stream limit");

    let calls: Vec<_> = (0..600)
        .map(|_| {
            let send = send.clone();
            let request = health(&server);
            tokio::spawn(async move {
                let mut send = send.ready().await?;
                let (response, _) = send.send_request(request, true)?;
                let response = response.await?;
                if response.status() != 200 {
                    return Err(h2::Error::from(Reason::INTERNAL_ERROR));
                }
                let mut body = response.into_body();
                while let Some(chunk) = body.data().await {
                    let chunk = chunk?;
                    let _ = body.flow_control().release_capacity(chunk.len());
                }
                Ok::<_, h2::Error>(())
            })
        })
        .collect();
    let mut answered = 0;
    for call in calls {
        if tokio::time::timeout(Duration::from_secs(30), call)
            .await
            .is_ok_and(|joined| joined.is_ok_and(|result| result.is_ok()))
        {
            answered += 1;
        }
    }
    assert_eq!(answered, 600, "every stream is answered, 256 at a time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_resets_close_the_abusers_connection_and_no_one_elses() {
    let (server, _dir) = server_with("").await;
    let (send, connection) = connect(&server, h2::client::Builder::new()).await;
    let mut opened = 0;
    let mut send = send;
    for _ in 0..5_000 {
        let Ok(mut ready) = send.clone().ready().await else {
            break;
        };
        let Ok((_, mut stream)) = ready.send_request(health(&server), false) else {
            break;
        };
        stream.send_reset(Reason::CANCEL);
        opened += 1;
        send = ready;
    }
    let ended = tokio::time::timeout(Duration::from_secs(10), connection)
        .await
        .expect("the abusing connection is closed")
        .expect("the connection task");
    // GOAWAY ENHANCE_YOUR_CALM, or, when the client is still writing as the server closes
    // the socket after it, a broken pipe.
    let closed_by_the_server = match &ended {
        Err(e) => e.reason() == Some(Reason::ENHANCE_YOUR_CALM) || e.is_io(),
        Ok(()) => false,
    };
    // The close is the protection. How many resets the client got out first is not: on a
    // loaded machine h2's client queues all 5,000 before the GOAWAY reaches it (seen in CI
    // while a benchmark seeded on the other core), so that number is not asserted.
    assert!(closed_by_the_server, "after {opened} resets: {ended:?}");
    others_are_served(&server).await;
}
