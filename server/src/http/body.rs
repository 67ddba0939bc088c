//! Request bodies that must keep arriving. A client that opens a request and then sends a
//! byte now and then would hold a connection and a task for as long as the request timeout
//! allows; every body must instead bring [`Settings::body_min_bytes`] in each
//! [`Settings::body_window`], or the request fails and its connection closes. Honest phones
//! on 2G send a hundred times the minimum.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use tokio::time::{Instant, Sleep};

use super::Settings;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Wraps every request body in [`MinRate`]; a body declared larger than any request may
/// carry is answered 413 at once, and then read and dropped (up to the same size again, at
/// the minimum rate), so that the client finishes sending and reads the answer instead of
/// finding the connection reset under it.
pub async fn enforce_min_rate(State(settings): State<Arc<Settings>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = Body::new(MinRate::new(body, settings.body_min_bytes, settings.body_window));
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = settings.max_body_bytes as u64;
    if declared.is_some_and(|n| n > limit) {
        tokio::spawn(drain(body, limit.saturating_mul(2)));
        let message = format!("the request body is larger than the {} MiB a request may carry", limit >> 20);
        return (
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(super::errors::ErrorBody { code: "too_large".into(), message }),
        )
            .into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Reads and drops up to `cap` bytes of `body`.
pub(crate) async fn drain(body: Body, cap: u64) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut read = 0u64;
    while read < cap {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => return,
        }
    }
}

/// A body that fails when fewer than `min` bytes arrive in some `window`.
pub struct MinRate {
    inner: Body,
    window: Pin<Box<Sleep>>,
    period: Duration,
    got: u64,
    min: u64,
}

impl MinRate {
    /// `inner`, required to bring `min` bytes every `period`.
    pub fn new(inner: Body, min: u64, period: Duration) -> MinRate {
        MinRate { inner, window: Box::pin(tokio::time::sleep(period)), period, got: 0, min }
    }
}

impl HttpBody for MinRate {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.got = this.got.saturating_add(data.len() as u64);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                while this.window.as_mut().poll(cx).is_ready() {
                    if this.got < this.min {
                        return Poll::Ready(Some(Err(
                            "the request body arrives too slowly; the connection is closed".into()
                        )));
                    }
                    this.got = 0;
                    this.window.as_mut().reset(Instant::now() + this.period);
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_fails_and_one_that_flows_arrives() {
        let (mut tx, rx) = futures_channel();
        let mut body = MinRate::new(rx, 10, Duration::from_secs(1));
        tx.send(Bytes::from_static(b"0123456789abc")).await;
        let first = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(first.is_some_and(|f| f.is_ok()));
        // Nothing more for a whole window: the body fails.
        let stalled = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        assert!(stalled.is_some_and(|f| f.is_err()));
        drop(tx);
    }

    /// A body fed by hand, one chunk at a time.
    fn futures_channel() -> (Sender, Body) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
        let stream = tokio_stream_like(rx);
        (Sender(tx), Body::new(stream))
    }

    struct Sender(tokio::sync::mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>);

    impl Sender {
        async fn send(&mut self, bytes: Bytes) {
            let _ = self.0.send(Ok(Frame::data(bytes))).await;
        }
    }

    fn tokio_stream_like(
        rx: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>,
    ) -> http_body_util::StreamBody<tokio_stream_adapter::Receiver> {
        http_body_util::StreamBody::new(tokio_stream_adapter::Receiver(rx))
    }

    mod tokio_stream_adapter {
        use super::*;

        pub struct Receiver(pub tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>);

        impl futures_core::Stream for Receiver {
            type Item = Result<Frame<Bytes>, std::io::Error>;

            fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                self.0.poll_recv(cx)
            }
        }
    }
}
