//! The SQL placeholder scanner (`syntax/placeholders.rs`), the `LIKE` escaping built on it
//! (`syntax/like.rs`), the rewrite to positional parameters (`source/sql/statement.rs`) and
//! `{param}` templates (`syntax/template.rs`), on arbitrary text.
//!
//! Invariants: nothing panics; every placeholder is `:` + an identifier at its byte range, in
//! order, never overlapping; the rewrite keeps everything but the placeholders and binds them in
//! order; adding `ESCAPE '!'` clauses only inserts them, keeps the placeholders, and is
//! idempotent (when quotes and parentheses balance); an escaped value holds no unescaped wildcard.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_gateway::config::SourceKind;
use switchboard_gateway::fuzzing::{
    add_like_escape_clauses, like_escape, sql_placeholder_names, sql_placeholders, template_params,
};
use switchboard_gateway::source::sql::compile;

const CLAUSE: &str = " ESCAPE '!'";

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else { return };

    let found = sql_placeholders(sql);
    let mut last = 0;
    for (name, range) in &found {
        assert!(range.start >= last && range.end <= sql.len(), "{range:?} out of order or bounds");
        assert_eq!(&sql[range.clone()], format!(":{name}"));
        let mut chars = name.chars();
        assert!(chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_'), "bad name {name:?}");
        assert!(chars.all(|c| c.is_ascii_alphanumeric() || c == '_'), "bad name {name:?}");
        last = range.end;
    }
    let names = sql_placeholder_names(sql);
    for (name, _) in &found {
        assert!(names.contains(name));
    }

    for kind in [SourceKind::Sqlite, SourceKind::Postgres] {
        let compiled = compile(sql, kind);
        assert_eq!(compiled.order, found.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>());
        // Only the placeholders changed.
        let mut expected = String::new();
        let mut at = 0;
        for (i, (_, range)) in found.iter().enumerate() {
            expected.push_str(&sql[at..range.start]);
            expected.push_str(&if kind == SourceKind::Postgres { format!("${}", i + 1) } else { "?".into() });
            at = range.end;
        }
        expected.push_str(&sql[at..]);
        assert_eq!(compiled.sql, expected);
    }

    // Every parameter is a LIKE parameter, then only the first one is.
    let first = found.first().map(|(n, _)| n.clone());
    for is_like in [&(|_: &str| true) as &dyn Fn(&str) -> bool, &|n: &str| Some(n) == first.as_deref()] {
        let escaped = add_like_escape_clauses(sql, is_like);
        assert_eq!(escaped.replace(CLAUSE, ""), sql.replace(CLAUSE, ""), "more than ESCAPE clauses were added");
        let again = sql_placeholders(&escaped).into_iter().map(|(n, _)| n).collect::<Vec<_>>();
        assert_eq!(again, found.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(), "placeholders changed");
        // (In SQL whose quote never closes, a clause may land inside the string, and an operand
        // whose parenthesis never closes runs to the end; the database refuses such SQL anyway.)
        if balanced(sql) {
            assert_eq!(add_like_escape_clauses(&escaped, is_like), escaped, "adding ESCAPE clauses is not idempotent");
        }
    }

    // An escaped value: every `!`, `%`, `_` is preceded by the escape character.
    let value = like_escape(sql);
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '!' => assert!(matches!(chars.next(), Some('!' | '%' | '_')), "dangling escape in {value:?}"),
            '%' | '_' => panic!("unescaped wildcard in {value:?}"),
            _ => {}
        }
    }

    // `{param}` templates: every name is an identifier written in braces.
    for name in template_params(sql) {
        assert!(sql.contains(&format!("{{{name}}}")), "{name:?} is not written in braces");
    }
});

/// Whether every quote (`'`, `"`, `` ` ``) outside `--` comments closes, and every parenthesis
/// outside quotes and comments.
fn balanced(sql: &str) -> bool {
    let b = sql.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => match b[i + 1..].iter().position(|&c| c == q) {
                Some(n) => i += n + 2,
                None => return false,
            },
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                let Some(d) = depth.checked_sub(1) else { return false };
                depth = d;
                i += 1;
            }
            _ => i += 1,
        }
    }
    depth == 0
}
