//! Responses a client does not take. A response body waits for the client: for TCP buffer space
//! on HTTP/1.1, for flow-control window on HTTP/2, where a client that never opens its window
//! (or advertises a window of one byte) keeps each of its streams, and the rendered answer,
//! alive for as long as it answers keep-alive pings. hyper has no write timeout, so each
//! connection tracks the responses it has produced but not yet delivered, and is closed when
//! the oldest has waited longer than `serve.request_timeout`.
//!
//! hyper hands a body chunk to h2 as soon as the window has one byte of room, and h2 buffers
//! the rest of that chunk, after which hyper drops the body as sent. Bodies are therefore
//! passed on in chunks of at most [`CHUNK`]: a stalled client parks at most that much per
//! stream inside h2 (256 streams: 4 MiB per connection), and any larger answer stays
//! undelivered, visibly, until the client takes it or the connection is closed.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::time::Instant;

/// The most of a body handed to the protocol at once.
pub const CHUNK: usize = 16 * 1024;

/// The responses of one connection that are on their way, by when each was produced.
#[derive(Debug, Default)]
pub struct Undelivered {
    next: AtomicU64,
    /// A handful at a time (one on HTTP/1.1, at most 256 streams on HTTP/2): a vector scans
    /// faster than a map hashes.
    since: Mutex<Vec<(u64, Instant)>>,
}

impl Undelivered {
    /// Wraps a response body so that it counts as undelivered until hyper has sent it all
    /// (hyper drops a body once its last byte is written, or when the stream is reset).
    pub fn track(self: &Arc<Self>, body: Body) -> Body {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut since) = self.since.lock() {
            since.push((id, Instant::now()));
        }
        Body::new(Tracked {
            inner: body,
            rest: Bytes::new(),
            _on_its_way: OnItsWay {
                id,
                undelivered: self.clone(),
            },
        })
    }

    /// How long the oldest undelivered response has waited.
    pub fn oldest(&self) -> Option<Duration> {
        let since = self.since.lock().ok()?;
        since.iter().map(|(_, at)| *at).min().map(|at| at.elapsed())
    }

    /// Completes once a response has waited longer than `limit`; checks every `limit / 4`.
    pub async fn stalled(&self, limit: Duration) {
        let mut tick = tokio::time::interval((limit / 4).max(Duration::from_millis(50)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if self.oldest().is_some_and(|waited| waited > limit) {
                return;
            }
        }
    }
}

struct OnItsWay {
    id: u64,
    undelivered: Arc<Undelivered>,
}

impl Drop for OnItsWay {
    fn drop(&mut self) {
        if let Ok(mut since) = self.undelivered.since.lock() {
            if let Some(at) = since.iter().position(|(id, _)| *id == self.id) {
                since.swap_remove(at);
            }
        }
    }
}

struct Tracked {
    inner: Body,
    /// What is left of a chunk larger than [`CHUNK`].
    rest: Bytes,
    _on_its_way: OnItsWay,
}

impl Tracked {
    fn next_piece(&mut self) -> Bytes {
        let take = self.rest.len().min(CHUNK);
        self.rest.split_to(take)
    }
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if !self.rest.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(self.next_piece()))));
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => {
                    self.rest = data;
                    Poll::Ready(Some(Ok(Frame::data(self.next_piece()))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let inner = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + rest);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + rest);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_body_counts_until_it_is_dropped() {
        let undelivered = Arc::new(Undelivered::default());
        assert_eq!(undelivered.oldest(), None);
        let body = undelivered.track(Body::from("hello"));
        assert!(undelivered.oldest().is_some());
        drop(body);
        assert_eq!(undelivered.oldest(), None);
    }

    #[tokio::test]
    async fn large_bodies_are_passed_on_in_chunks() {
        use http_body_util::BodyExt;
        let undelivered = Arc::new(Undelivered::default());
        let big = vec![7u8; CHUNK * 2 + 5];
        let mut body = undelivered.track(Body::from(big.clone()));
        let mut sizes = Vec::new();
        let mut all = Vec::new();
        while let Some(frame) = body.frame().await {
            let data = frame.ok().and_then(|f| f.into_data().ok()).unwrap_or_default();
            sizes.push(data.len());
            all.extend_from_slice(&data);
        }
        assert_eq!(sizes, vec![CHUNK, CHUNK, 5]);
        assert_eq!(all, big);
    }

    #[tokio::test]
    async fn stalled_fires_only_after_the_limit() {
        let undelivered = Arc::new(Undelivered::default());
        let _body = undelivered.track(Body::from("hello"));
        let limit = Duration::from_millis(400);
        let early = tokio::time::timeout(Duration::from_millis(200), undelivered.stalled(limit)).await;
        assert!(early.is_err(), "not before the limit");
        let late = tokio::time::timeout(Duration::from_secs(2), undelivered.stalled(limit)).await;
        assert!(late.is_ok(), "soon after it");
    }
}
