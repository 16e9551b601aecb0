//! An incremental parser for `text/event-stream` bodies (the WHATWG event-stream format).

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` field (`message` when absent).
    pub(crate) event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub(crate) data: String,
    /// The `id:` field, when this event set one.
    pub(crate) id: Option<String>,
}

/// Feeds bytes in, takes events out; also tracks the stream's `retry:` and last event id.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    buf: Vec<u8>,
    current: SseEvent,
    has_data: bool,
    /// The reconnection delay the server asked for, in milliseconds.
    pub(crate) retry_ms: Option<u64>,
    /// The last event id seen (kept across events, as the spec says).
    pub(crate) last_event_id: Option<String>,
    /// The most bytes one event may have (data lines together).
    pub(crate) max_event_bytes: usize,
}

impl SseParser {
    pub(crate) fn new(max_event_bytes: usize) -> Self {
        Self { max_event_bytes, ..Self::default() }
    }

    /// Parses what `chunk` completes; an event over the size limit is an error.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, String> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(pos) = self.buf[start..].iter().position(|&b| b == b'\n' || b == b'\r') {
            let end = start + pos;
            let line = String::from_utf8_lossy(&self.buf[start..end]).into_owned();
            // CRLF counts as one line break.
            let mut next = end + 1;
            if self.buf[end] == b'\r' {
                if next == self.buf.len() {
                    break; // Wait for the possible '\n'.
                }
                if self.buf[next] == b'\n' {
                    next += 1;
                }
            }
            start = next;
            self.line(&line, &mut events);
        }
        self.buf.drain(..start);
        if self.buf.len() + self.current.data.len() > self.max_event_bytes {
            return Err(format!("an SSE event is larger than {} bytes", self.max_event_bytes));
        }
        Ok(events)
    }

    fn line(&mut self, line: &str, events: &mut Vec<SseEvent>) {
        if line.is_empty() {
            let event = std::mem::take(&mut self.current);
            if std::mem::take(&mut self.has_data) {
                events.push(event);
            }
            return;
        }
        if line.starts_with(':') {
            return; // A comment (keep-alive).
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.current.event = Some(value.to_owned()),
            "id" if !value.contains('\0') => {
                self.current.id = Some(value.to_owned());
                self.last_event_id = Some(value.to_owned());
            }
            "retry" => {
                if let Ok(ms) = value.parse() {
                    self.retry_ms = Some(ms);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_and_line_endings() {
        let mut p = SseParser::new(1 << 20);
        let mut events =
            p.feed(b"id: e-1\nretry: 500\ndata: \n\n: keep-alive\r\nevent: message\r\nda").unwrap_or_default();
        events.extend(p.feed(b"ta: {\"a\":1}\r").unwrap_or_default());
        events.extend(p.feed(b"\n\r\ndata: x\ndata: y\n\n").unwrap_or_default());
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].data, "");
        assert_eq!(events[1].event.as_deref(), Some("message"));
        assert_eq!(events[1].data, "{\"a\":1}");
        assert_eq!(events[2].data, "x\ny");
        assert_eq!(p.retry_ms, Some(500));
        assert_eq!(p.last_event_id.as_deref(), Some("e-1"));
    }

    #[test]
    fn oversized_events_are_refused() {
        let mut p = SseParser::new(8);
        assert!(p.feed(b"data: 0123456789").is_err());
    }
}
