//! One write per small HTTP/2 answer.
//!
//! h2 copies a DATA frame's payload into its write buffer only below a threshold (256 bytes when
//! the connection can write vectored, 1,024 when it cannot); a larger payload is written from
//! its own buffer, and the frame after it waits until that write is done. A gRPC answer is
//! HEADERS, DATA, then trailers, so every unary gRPC answer of more than 256 bytes (a
//! GetSession is ~350) went out in two `writev` calls, the trailers alone in the second: 1.85
//! writes per request against 0.95 over HTTP/1.1, measured with `perf stat` on the server.
//! Reporting the connection as not vectored raises the threshold to 1,024 bytes, so an answer
//! up to that size leaves in one write; a larger one costs one write more than before, next to
//! a payload that took far longer to produce.

use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection that tells h2 it cannot write vectored.
pub struct UnvectoredWrites<I>(pub I);

impl<I: AsyncRead + Unpin> AsyncRead for UnvectoredWrites<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for UnvectoredWrites<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        false
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use bytes::Bytes;
    use hyper::body::{Body, Frame};
    use hyper_util::rt::{TokioExecutor, TokioIo};

    use super::*;

    /// Counts the writes that reach the socket.
    struct CountedWrites<I> {
        inner: I,
        writes: Arc<AtomicUsize>,
    }

    impl<I: AsyncRead + Unpin> AsyncRead for CountedWrites<I> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl<I: AsyncWrite + Unpin> AsyncWrite for CountedWrites<I> {
        fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
            let written = Pin::new(&mut self.inner).poll_write(cx, buf);
            if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
                self.writes.fetch_add(1, Ordering::SeqCst);
            }
            written
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            let written = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
            if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
                self.writes.fetch_add(1, Ordering::SeqCst);
            }
            written
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// A unary gRPC answer: one message of `size` bytes, then the status in trailers.
    struct GrpcAnswer {
        message: Option<Bytes>,
        trailers_sent: bool,
    }

    impl Body for GrpcAnswer {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            if let Some(message) = self.message.take() {
                return Poll::Ready(Some(Ok(Frame::data(message))));
            }
            if self.trailers_sent {
                return Poll::Ready(None);
            }
            self.trailers_sent = true;
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            Poll::Ready(Some(Ok(Frame::trailers(trailers))))
        }
    }

    /// The socket writes the server made for the second of two calls whose answers carry
    /// `size` bytes (the first call settles the connection's own frames).
    async fn writes_for_an_answer(size: usize) -> usize {
        let (client_io, server_io) = tokio::io::duplex(1 << 20);
        let writes = Arc::new(AtomicUsize::new(0));
        let server_io = UnvectoredWrites(CountedWrites {
            inner: server_io,
            writes: writes.clone(),
        });
        let service = hyper::service::service_fn(move |_request| async move {
            let answer = GrpcAnswer {
                message: Some(Bytes::from(vec![7_u8; size])),
                trailers_sent: false,
            };
            Ok::<_, std::convert::Infallible>(http::Response::new(answer))
        });
        tokio::spawn(
            hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(server_io), service),
        );
        let (client, connection) = h2::client::handshake(client_io).await.expect("handshake");
        tokio::spawn(connection);
        let mut counted = 0;
        for _ in 0..2 {
            let mut client = client.clone().ready().await.expect("ready");
            let before = writes.load(Ordering::SeqCst);
            let request = http::Request::post("http://lanyard/zitadel.session.v2.SessionService/GetSession")
                .body(())
                .expect("request");
            let (answer, _) = client.send_request(request, true).expect("send");
            let mut body = answer.await.expect("answer").into_body();
            let mut received = 0;
            while let Some(chunk) = body.data().await {
                let chunk = chunk.expect("data");
                received += chunk.len();
                body.flow_control().release_capacity(chunk.len()).expect("release");
            }
            assert_eq!(received, size);
            assert!(body.trailers().await.expect("trailers").is_some());
            counted = writes.load(Ordering::SeqCst) - before;
        }
        counted
    }

    #[tokio::test]
    async fn a_small_grpc_answer_leaves_in_one_write() {
        // A GetSession answer is ~350 bytes: headers, message and status in one write.
        assert_eq!(writes_for_an_answer(350).await, 1);
        assert_eq!(writes_for_an_answer(1_000).await, 1);
    }

    #[tokio::test]
    async fn a_large_answer_arrives_whole_with_its_status() {
        // Above the threshold h2 writes the message from its own buffer again; what matters is
        // that the client gets every byte and the trailers (asserted inside).
        writes_for_an_answer(200_000).await;
    }
}
