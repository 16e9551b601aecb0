//! URI templates (`server/uri_template.rs`): parsing arbitrary templates and matching
//! arbitrary URIs against them.
//!
//! Input: the template, a newline, the URI (the first line alone is both, when there is no
//! newline).
//!
//! Invariants: nothing panics; a match binds only the template's variables; and a variable
//! captured by an expression that cannot contain `/` (everything but `{+var}` and `{#var}`) never
//! holds a `/` or a backslash, nor is `.` or `..`, however it was percent-encoded (`%2F`,
//! `%5C`, `%2E%2E`) — so a template mapped onto files cannot be walked out of its directory.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_mcp::server::uri_template::UriTemplate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (template, uri) = text.split_once('\n').unwrap_or((text, text));
    let Ok(t) = UriTemplate::parse(template) else { return };
    assert_eq!(t.as_str(), template);
    let Some(vars) = t.matches(uri) else { return };
    let names = t.variables();
    let (segment, reserved) = expressions(template);
    for (name, value) in &vars {
        assert!(names.contains(&name.as_str()), "{name:?} is not a variable of {template:?}");
        // A name used by a reserved expression anywhere may legitimately hold a `/`.
        if segment.contains(name) && !reserved.contains(name) {
            let escapes = value.contains(['/', '\\']) || value == "." || value == "..";
            assert!(!escapes, "{template:?} matched {uri:?} with {name} = {value:?}: not one path segment");
        }
    }
});

/// The variable names of `{...}` expressions that must stay one segment, and of reserved ones
/// (`{+var}`, `{#var}`), read from the template text.
fn expressions(template: &str) -> (Vec<String>, Vec<String>) {
    let (mut segment, mut reserved) = (Vec::new(), Vec::new());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        let body = &rest[open + 1..open + close];
        let (is_reserved, names) = match body.chars().next() {
            Some('+' | '#') => (true, &body[1..]),
            Some('/' | '.' | '?' | '&' | ';') => (false, &body[1..]),
            _ => (false, body),
        };
        for name in names.split(',') {
            let name = name.trim_end_matches('*').split(':').next().unwrap_or("").to_owned();
            if is_reserved {
                reserved.push(name)
            } else {
                segment.push(name)
            }
        }
        rest = &rest[open + close + 1..];
    }
    (segment, reserved)
}
