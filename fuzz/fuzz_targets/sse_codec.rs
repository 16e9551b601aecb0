//! The SSE codec: the server's encoder (`server/http/sse.rs`) and the one decoder every
//! Switchboard client uses (the `sse-stream` crate).
//!
//! Input: the first byte picks the mode.
//! - Even: a round trip. The rest, split at NUL bytes, is: data, id, a second data, a second id,
//!   and the cut points of the byte stream. Events (`event`, `priming`, `keep_alive`) are
//!   encoded, the stream is cut into chunks, and decoded; every event must come back with its
//!   data (line breaks — CR, LF, CRLF — read back as LF, the one line break SSE can carry), its id
//!   and its retry. Ids cannot hold CR, LF or NUL in SSE, so those are taken out of the fuzzed ids
//!   (the server's ids are `<stream>-<seq>`).
//! - Odd: arbitrary bytes decoded whole and cut into chunks; nothing panics and the chunking
//!   changes nothing.

#![no_main]

use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use libfuzzer_sys::fuzz_target;
use sse_stream::{Sse, SseByteStream};
use switchboard_mcp::server::http::fuzzing::{sse_event, sse_keep_alive, sse_priming};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        round_trip(rest);
    } else {
        let (cuts, bytes) = rest.split_at(rest.len().min(usize::from(mode / 2) % 8));
        let whole = decode(&[Bytes::copy_from_slice(bytes)]);
        let pieces = decode(&chunks(bytes, cuts));
        assert_eq!(whole, pieces, "chunking changed the decoding");
    }
});

fn round_trip(rest: &[u8]) {
    let mut parts = rest.split(|&b| b == 0);
    let mut text = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (data1, id1, data2, id2) = (text(), text(), text(), text());
    let cuts = parts.next().unwrap_or_default().to_vec();
    let id1 = id1.replace(['\r', '\n'], "");
    let id2 = id2.replace(['\r', '\n'], "");
    let retry =
        Duration::from_millis(u64::from(cuts.iter().fold(0u16, |a, &b| a.wrapping_mul(31).wrapping_add(b.into()))));
    let id1 = (!id1.is_empty()).then_some(id1);

    let mut stream = Vec::new();
    stream.extend_from_slice(&sse_priming(&id2, retry));
    stream.extend_from_slice(&sse_event(id1.as_deref(), data1.as_bytes()));
    stream.extend_from_slice(&sse_keep_alive());
    stream.extend_from_slice(&sse_event(None, data2.as_bytes()));

    let got = decode(&chunks(&stream, &cuts)).unwrap_or_else(|e| panic!("decoding failed: {e}"));
    let want = vec![
        Sse { event: None, data: Some(String::new()), id: Some(id2), retry: Some(retry.as_millis() as u64) },
        Sse { event: Some("message".into()), data: Some(lines(&data1)), id: id1, retry: None },
        Sse { event: Some("message".into()), data: Some(lines(&data2)), id: None, retry: None },
    ];
    let view = |events: &[Sse]| {
        events.iter().map(|e| (e.event.clone(), e.data.clone(), e.id.clone(), e.retry)).collect::<Vec<_>>()
    };
    assert_eq!(view(&got), view(&want), "stream {:?}", String::from_utf8_lossy(&stream));
}

/// `s` with every line break written as LF.
fn lines(s: &str) -> String {
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// `bytes` cut at the positions `cuts` picks (each byte: how far the next cut is).
fn chunks(bytes: &[u8], cuts: &[u8]) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut rest = bytes;
    for &c in cuts {
        if rest.is_empty() {
            break;
        }
        let (head, tail) = rest.split_at(usize::from(c).min(rest.len()));
        out.push(Bytes::copy_from_slice(head));
        rest = tail;
    }
    out.push(Bytes::copy_from_slice(rest));
    out
}

/// Every event of the stream, or its first error (as text).
fn decode(chunks: &[Bytes]) -> Result<Vec<Sse>, String> {
    let input = futures_util::stream::iter(chunks.to_vec().into_iter().map(Ok::<Bytes, std::io::Error>));
    let decoded: Vec<Result<Sse, sse_stream::Error>> =
        SseByteStream::new(input).collect().now_or_never().expect("an in-memory stream never waits");
    decoded.into_iter().map(|r| r.map_err(|e| e.to_string())).collect()
}
