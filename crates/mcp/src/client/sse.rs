//! Reading `text/event-stream` bodies with the `sse-stream` crate's decoder, the one SSE parser
//! the client, the testkit and the load generator share. This module adds what a client needs
//! around it: a bound on the bytes an unfinished event may hold, and the stream state kept
//! across reconnections (the last event id and the server's `retry:`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures_util::{Stream, StreamExt};

/// One event block as decoded (`data` is `None` for blocks without a `data:` field, such as a
/// priming event that only sets an id).
pub(crate) type SseEvent = sse_stream::Sse;

/// Why reading an event stream stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SseError {
    /// More than this many bytes arrived without completing an event.
    #[error("an SSE event is larger than {0} bytes")]
    TooLarge(usize),
    /// The stream is not a valid event stream (invalid UTF-8 in a field).
    #[error("invalid SSE stream: {0}")]
    Invalid(String),
    /// The body broke off (the connection failed).
    #[error("the SSE stream broke off: {0}")]
    Broken(String),
}

/// The events of `body`. An event over `max_event_bytes` ends the stream with
/// [`SseError::TooLarge`]: the decoder never holds more than that plus one chunk of input.
pub(crate) fn events<S, B, E>(body: S, max_event_bytes: usize) -> impl Stream<Item = Result<SseEvent, SseError>> + Send
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: bytes::Buf + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    // Bytes handed to the decoder since it last completed an event. It is checked before each
    // new chunk goes in, so a chunk that finishes one event and starts many others is not
    // mistaken for one large event.
    let pending = Arc::new(AtomicUsize::new(0));
    let fed = Arc::clone(&pending);
    let guarded = body.map(move |chunk| {
        let chunk = chunk.map_err(|e| ReadError::Body(Box::new(e)))?;
        if fed.fetch_add(chunk.remaining(), Ordering::Relaxed) > max_event_bytes {
            return Err(ReadError::TooLarge(max_event_bytes));
        }
        Ok(chunk)
    });
    sse_stream::SseByteStream::new(guarded).map(move |event| {
        pending.store(0, Ordering::Relaxed);
        event.map_err(|e| match e {
            sse_stream::Error::Body(e) => match e.downcast::<ReadError>().map(|e| *e) {
                Ok(ReadError::TooLarge(max)) => SseError::TooLarge(max),
                Ok(ReadError::Body(e)) => SseError::Broken(e.to_string()),
                Err(e) => SseError::Broken(e.to_string()),
            },
            other => SseError::Invalid(other.to_string()),
        })
    })
}

/// What the input side of [`events`] can fail with.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("an SSE event is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Body(Box<dyn std::error::Error + Send + Sync>),
}

/// What a client remembers across the streams of one exchange, as the event-stream format says:
/// the last event id (sent back as `Last-Event-ID` on resumption) and the reconnection delay.
#[derive(Debug, Default)]
pub(crate) struct SseState {
    /// The reconnection delay the server asked for, in milliseconds.
    pub(crate) retry_ms: Option<u64>,
    /// The last event id seen (kept across events).
    pub(crate) last_event_id: Option<String>,
}

impl SseState {
    /// Notes the `id:` and `retry:` of `event`.
    pub(crate) fn observe(&mut self, event: &SseEvent) {
        if let Some(id) = event.id.as_ref().filter(|id| !id.contains('\0')) {
            self.last_event_id = Some(id.clone());
        }
        if let Some(ms) = event.retry {
            self.retry_ms = Some(ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(chunks: &[&'static [u8]], max: usize) -> (Vec<SseEvent>, Option<SseError>, SseState) {
        let chunks: Vec<_> = chunks.iter().map(|c| Ok::<_, std::io::Error>(bytes::Bytes::from_static(c))).collect();
        let body = futures_util::stream::iter(chunks);
        let mut stream = std::pin::pin!(events(body, max));
        let (mut out, mut state) = (Vec::new(), SseState::default());
        while let Some(event) = stream.next().await {
            match event {
                Ok(e) => {
                    state.observe(&e);
                    out.push(e);
                }
                Err(e) => return (out, Some(e), state),
            }
        }
        (out, None, state)
    }

    #[tokio::test]
    async fn events_split_across_chunks_and_line_endings() {
        let (events, error, state) = read(
            &[
                b"id: e-1\nretry: 500\ndata: \n\n: keep-alive\r\nevent: message\r\nda",
                b"ta: {\"a\":1}\r",
                b"\n\r\ndata: x\ndata: y\n\n",
            ],
            1 << 20,
        )
        .await;
        assert!(error.is_none(), "{error:?}");
        let data: Vec<_> = events.iter().map(|e| e.data.as_deref()).collect();
        assert_eq!(data, [Some(""), Some("{\"a\":1}"), Some("x\ny")]);
        assert_eq!(events[1].event.as_deref(), Some("message"));
        assert_eq!(state.retry_ms, Some(500));
        assert_eq!(state.last_event_id.as_deref(), Some("e-1"));
    }

    #[tokio::test]
    async fn oversized_events_are_refused() {
        let (events, error, _) = read(&[b"data: 0123456789", b"0123456789", b"\n\n"], 8).await;
        assert!(events.is_empty());
        assert!(matches!(error, Some(SseError::TooLarge(8))), "{error:?}");
    }

    #[tokio::test]
    async fn one_chunk_of_many_small_events_is_not_one_large_event() {
        let many: &'static [u8] = b"data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: 5\n\n";
        let (events, error, _) = read(&[many, b"data: 6\n\n"], 16).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(events.len(), 6);
    }
}
