//! Property tests of the server's encoders against their decoders: SSE events against the
//! client's SSE decoder, URI template expansion against matching, and the `Mcp-Name`/`Mcp-Param-*`
//! value encoding against its decoding.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use proptest::prelude::*;

use crate::server::http::fuzzing::{decode_header_value, sse_event, sse_priming};
use crate::server::uri_template::UriTemplate;
use crate::xmcp::encode_header_value;

/// Every event of an SSE byte stream, decoded as the client does.
fn decode_sse(stream: &[u8]) -> Vec<sse_stream::Sse> {
    let input = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::copy_from_slice(stream))]);
    let events: Vec<_> = sse_stream::SseByteStream::new(input).collect().now_or_never().expect("in memory");
    events.into_iter().map(|e| e.expect("the stream decodes")).collect()
}

/// Percent-encodes every byte but ASCII letters and digits.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// A value a `{var}` expression can carry: one path segment once decoded.
fn segment() -> impl Strategy<Value = String> {
    any::<String>()
        .prop_filter("one non-empty segment", |v| !v.is_empty() && !v.contains(['/', '\\']) && v != "." && v != "..")
}

proptest! {
    #[test]
    fn proptest_sse_events_round_trip(data in any::<String>(), id in prop::option::of("[^\r\n\0]*")) {
        let events = decode_sse(&sse_event(id.as_deref(), data.as_bytes()));
        prop_assert_eq!(events.len(), 1);
        prop_assert_eq!(events[0].event.as_deref(), Some("message"));
        prop_assert_eq!(events[0].id.as_deref(), id.as_deref());
        // SSE carries one kind of line break: CR and CRLF come back as LF.
        prop_assert_eq!(events[0].data.clone(), Some(data.replace("\r\n", "\n").replace('\r', "\n")));
    }

    #[test]
    fn proptest_sse_priming_round_trips(id in "[^\r\n\0]*", retry in 0u64..10_000_000) {
        let events = decode_sse(&sse_priming(&id, std::time::Duration::from_millis(retry)));
        prop_assert_eq!(events.len(), 1);
        prop_assert_eq!(events[0].id.as_deref(), Some(id.as_str()));
        prop_assert_eq!(events[0].retry, Some(retry));
        prop_assert_eq!(events[0].data.as_deref(), Some(""));
    }

    #[test]
    fn proptest_uri_templates_match_what_they_expand_to(
        scheme in "[a-z]{1,8}",
        parts in prop::collection::vec(("[/:~_@!-]{1,3}", segment()), 1..5),
        tail in "[/:~_@!-]{0,3}",
    ) {
        let mut template = format!("{scheme}://");
        let mut uri = template.clone();
        let mut want = BTreeMap::new();
        for (i, (literal, value)) in parts.iter().enumerate() {
            template.push_str(&format!("{literal}{{v{i}}}"));
            uri.push_str(&format!("{literal}{}", encode(value)));
            want.insert(format!("v{i}"), value.clone());
        }
        template.push_str(&tail);
        uri.push_str(&tail);
        let t = UriTemplate::parse(&template).expect("the template parses");
        prop_assert_eq!(t.matches(&uri), Some(want), "{} against {}", template, uri);
    }

    #[test]
    fn proptest_header_values_round_trip(value in any::<String>()) {
        let encoded = encode_header_value(&value);
        prop_assert!(encoded.bytes().all(|b| (0x20..=0x7e).contains(&b)), "{:?} is not visible ASCII", encoded);
        prop_assert_eq!(decode_header_value(&encoded).expect("decodes"), value);
    }
}
