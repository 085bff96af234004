//! gRPC and gRPC-Web framing for unary calls: a request body is one length-prefixed message, a
//! response is one message followed by the status, as HTTP/2 trailers (gRPC) or as a final
//! frame in the body (gRPC-Web; base64 for `grpc-web-text`).

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use http_body::Frame;

use super::error::ZitadelError;
use super::protocol::Protocol;

/// The flag byte of a frame: bit 0 compression, bit 7 a gRPC-Web trailer frame.
const COMPRESSED: u8 = 0x01;
const TRAILERS: u8 = 0x80;
const PREFIX: usize = 5;

/// The one message of a unary request body (after base64 for `grpc-web-text`).
pub fn unframe(protocol: &Protocol, body: &[u8]) -> Result<Bytes, ZitadelError> {
    let body: Bytes = if *protocol == Protocol::GrpcWebText {
        decode_text(body)?.into()
    } else {
        Bytes::copy_from_slice(body)
    };
    if body.len() < PREFIX {
        return Err(ZitadelError::invalid(format!(
            "the request body holds {} bytes; a gRPC message needs a 5-byte prefix",
            body.len()
        )));
    }
    let flags = body[0];
    let length = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    if flags & COMPRESSED != 0 {
        return Err(ZitadelError::new(
            super::error::Code::Unimplemented,
            "LANYARD-compression",
            "compressed messages are not supported: send them with grpc-encoding identity",
        ));
    }
    if flags != 0 {
        return Err(ZitadelError::invalid(format!("unknown frame flags {flags:#04x}")));
    }
    let rest = body.len() - PREFIX;
    if length != rest {
        return Err(ZitadelError::invalid(if length > rest {
            format!("the message prefix announces {length} bytes but the body holds {rest}")
        } else {
            "a unary call carries exactly one message".to_owned()
        }));
    }
    Ok(body.slice(PREFIX..))
}

/// `grpc-web-text` bodies are base64, possibly several padded chunks one after another.
fn decode_text(body: &[u8]) -> Result<Vec<u8>, ZitadelError> {
    let bad = || ZitadelError::invalid("the grpc-web-text body is not valid base64");
    let text: Vec<u8> = body.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    // A chunk ends where padding ends; each decodes on its own.
    let mut start = 0;
    for end in 1..=text.len() {
        if end == text.len() || (text[end - 1] == b'=' && text[end] != b'=') {
            STANDARD.decode_vec(&text[start..end], &mut out).map_err(|_| bad())?;
            start = end;
        }
    }
    Ok(out)
}

fn frame(flags: u8, payload: &[u8]) -> BytesMut {
    let mut out = BytesMut::with_capacity(PREFIX + payload.len());
    out.put_u8(flags);
    out.put_u32(payload.len() as u32);
    out.put_slice(payload);
    out
}

/// A successful unary answer carrying `message`.
pub fn ok(protocol: &Protocol, message: &[u8]) -> Response {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    match protocol {
        Protocol::Grpc => with_type(
            Body::new(MessageThenTrailers {
                message: Some(frame(0, message).freeze()),
                trailers: Some(trailers),
            }),
            "application/grpc",
        ),
        _ => {
            let mut body = frame(0, message);
            body.put_slice(&frame(TRAILERS, b"grpc-status:0\r\n"));
            web_body(protocol, body.freeze())
        }
    }
}

/// A failed call: gRPC's "trailers only" answer, the status in the response headers and no
/// body, which gRPC and gRPC-Web clients both read.
pub fn error(protocol: &Protocol, status: HeaderMap) -> Response {
    let content_type = match protocol {
        Protocol::GrpcWeb => "application/grpc-web+proto",
        Protocol::GrpcWebText => "application/grpc-web-text+proto",
        _ => "application/grpc",
    };
    let mut response = with_type(Body::empty(), content_type);
    response.headers_mut().extend(status);
    response
}

fn web_body(protocol: &Protocol, body: Bytes) -> Response {
    if *protocol == Protocol::GrpcWebText {
        with_type(Body::from(STANDARD.encode(&body)), "application/grpc-web-text+proto")
    } else {
        with_type(Body::from(body), "application/grpc-web+proto")
    }
}

fn with_type(body: Body, content_type: &'static str) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static(content_type));
    response
}

/// One data frame, then HTTP/2 trailers.
struct MessageThenTrailers {
    message: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl http_body::Body for MessageThenTrailers {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(message) = self.message.take() {
            return Poll::Ready(Some(Ok(Frame::data(message))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.message.is_none() && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_is_one_message() {
        let body = frame(0, b"abc");
        assert_eq!(unframe(&Protocol::Grpc, &body).ok().as_deref(), Some(&b"abc"[..]));
        let empty = frame(0, b"");
        assert_eq!(unframe(&Protocol::Grpc, &empty).ok().as_deref(), Some(&b""[..]));
    }

    #[test]
    fn malformed_frames_are_rejected_with_a_reason() {
        let message = |body: &[u8]| unframe(&Protocol::Grpc, body).err().map(|e| e.message);
        assert!(message(b"\0\0\0").is_some_and(|m| m.contains("5-byte prefix")));
        assert!(message(b"\0\0\0\0\x09abc").is_some_and(|m| m.contains("announces 9")));
        let mut two = frame(0, b"a");
        two.put_slice(&frame(0, b"b"));
        assert!(message(&two).is_some_and(|m| m.contains("exactly one")));
        assert!(message(&frame(COMPRESSED, b"a")).is_some_and(|m| m.contains("compressed")));
        assert!(message(&frame(0x40, b"a")).is_some_and(|m| m.contains("flags")));
    }

    #[test]
    fn grpc_web_text_takes_padded_chunks() {
        let body = frame(0, b"hello");
        let mut text = STANDARD.encode(&body[..2]);
        text.push_str(&STANDARD.encode(&body[2..]));
        let message = unframe(&Protocol::GrpcWebText, text.as_bytes());
        assert_eq!(message.ok().as_deref(), Some(&b"hello"[..]));
        assert!(unframe(&Protocol::GrpcWebText, b"!!!!").is_err());
    }
}
