//! Reading a provider's streamed answer: SSE events with a cap on each event's size.

use futures_util::{Stream, StreamExt};

use super::ProviderError;

/// The largest single event we accept (a whole tool call's arguments can be one event).
const MAX_EVENT_BYTES: usize = 4 << 20;

/// One event: its name (`event:`) and data.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) name: Option<String>,
    pub(crate) data: String,
}

/// The events of a streamed response body.
pub(crate) fn events(
    provider: &str,
    response: reqwest::Response,
) -> impl Stream<Item = Result<Event, ProviderError>> + Send + 'static {
    let provider = provider.to_owned();
    sse_stream::SseByteStream::new(response.bytes_stream()).map(move |event| match event {
        Ok(sse) => {
            let data = sse.data.unwrap_or_default();
            if data.len() > MAX_EVENT_BYTES {
                return Err(ProviderError::Failed {
                    provider: provider.clone(),
                    message: format!("a streamed event is over {MAX_EVENT_BYTES} bytes"),
                });
            }
            Ok(Event { name: sse.event, data })
        }
        Err(e) => Err(ProviderError::Unavailable {
            provider: provider.clone(),
            message: format!("the stream broke off: {e}"),
        }),
    })
}
