//! `LIKE` patterns built from parameters (`like: contains | prefix`): the value's own `%`, `_`
//! and escape characters must match themselves, so every `LIKE` whose pattern uses such a
//! parameter gets `ESCAPE '!'` (the same character works in SQLite, PostgreSQL and MySQL, whose
//! string literals disagree about backslashes) and the value is escaped with [`escape`].

use super::placeholders::scan;

/// The escape character written into the SQL and used by [`escape`].
pub(crate) const ESCAPE_CHAR: char = '!';

/// `value` with `!`, `%` and `_` escaped, to be matched literally inside a pattern.
pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        if matches!(c, '!' | '%' | '_') {
            out.push(ESCAPE_CHAR);
        }
        out.push(c);
    }
    out
}

/// Words that end a `LIKE` operand at parenthesis depth 0.
const STOP_WORDS: [&str; 16] = [
    "AND", "OR", "ESCAPE", "ORDER", "GROUP", "LIMIT", "HAVING", "THEN", "ELSE", "END", "WHEN", "UNION", "OFFSET",
    "FROM", "WHERE", "COLLATE",
];

/// `sql` with ` ESCAPE '!'` after every `LIKE`/`ILIKE` operand that uses a placeholder for which
/// `is_like` holds and has no `ESCAPE` of its own.
pub(crate) fn add_escape_clauses(sql: &str, is_like: impl Fn(&str) -> bool) -> String {
    let placeholders = scan(sql);
    let mut inserts = Vec::new();
    for start in like_keywords(sql) {
        let end = operand_end(sql, start);
        let uses_like_param = placeholders.iter().any(|(name, r)| r.start >= start && r.end <= end && is_like(name));
        let next_word = sql[end..].trim_start().split(|c: char| !c.is_ascii_alphabetic()).next().unwrap_or("");
        if uses_like_param && !next_word.eq_ignore_ascii_case("ESCAPE") {
            inserts.push(end);
        }
    }
    // Chained LIKEs (`a LIKE b LIKE :q`) end where the last one does: one clause there.
    inserts.sort_unstable();
    inserts.dedup();
    let mut out = String::with_capacity(sql.len() + inserts.len() * 12);
    let mut last = 0;
    for at in inserts {
        out.push_str(&sql[last..at]);
        out.push_str(" ESCAPE '!'");
        last = at;
    }
    out.push_str(&sql[last..]);
    out
}

/// Byte offsets just after each `LIKE`/`ILIKE` keyword outside quotes and comments.
fn like_keywords(sql: &str) -> Vec<usize> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => i = skip_quoted(b, i, q),
            b'-' if b.get(i + 1) == Some(&b'-') => i = skip_line(b, i),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let word = &sql[start..i];
                if word.eq_ignore_ascii_case("LIKE") || word.eq_ignore_ascii_case("ILIKE") {
                    out.push(i);
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Where the operand that starts after `from` ends: at depth 0, a closing parenthesis, a comma,
/// a semicolon, a stop word, or the end.
fn operand_end(sql: &str, from: usize) -> usize {
    let b = sql.as_bytes();
    let mut depth = 0usize;
    let mut i = from;
    let mut last_token_end = from;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i = skip_quoted(b, i, q);
                last_token_end = i;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => i = skip_line(b, i),
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' if depth == 0 => return last_token_end,
            b')' => {
                depth -= 1;
                i += 1;
                last_token_end = i;
            }
            b',' | b';' if depth == 0 => return last_token_end,
            c if c.is_ascii_alphanumeric() || c == b'_' || c == b':' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                    i += 1;
                }
                if depth == 0 && STOP_WORDS.iter().any(|w| sql[start..i].eq_ignore_ascii_case(w)) {
                    return last_token_end;
                }
                last_token_end = i;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                i += 1;
                last_token_end = i;
            }
        }
    }
    last_token_end
}

/// Just past the quote that closes the one at `at`; the end of the text when none does.
fn skip_quoted(b: &[u8], at: usize, q: u8) -> usize {
    let mut i = at + 1;
    while i < b.len() && b[i] != q {
        i += 1;
    }
    (i + 1).min(b.len())
}

fn skip_line(b: &[u8], at: usize) -> usize {
    let mut i = at;
    while i < b.len() && b[i] != b'\n' {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_operands_with_like_params_get_an_escape_clause() {
        let q = |n: &str| n == "q";
        assert_eq!(add_escape_clauses("SELECT 1 WHERE a LIKE :q", q), "SELECT 1 WHERE a LIKE :q ESCAPE '!'");
        assert_eq!(
            add_escape_clauses("WHERE (LOWER(a) LIKE LOWER(:q) OR b like lower(:q)) AND c = 1", q),
            "WHERE (LOWER(a) LIKE LOWER(:q) ESCAPE '!' OR b like lower(:q) ESCAPE '!') AND c = 1"
        );
        assert_eq!(
            add_escape_clauses("WHERE a ILIKE '%' || :q || '%' ORDER BY a", q),
            "WHERE a ILIKE '%' || :q || '%' ESCAPE '!' ORDER BY a"
        );
        // Its own ESCAPE, another parameter, or LIKE inside a string: left alone.
        for sql in ["WHERE a LIKE :q ESCAPE '#'", "WHERE a LIKE :other", "WHERE a = 'LIKE :q'", "WHERE a = :q"] {
            assert_eq!(add_escape_clauses(sql, q), sql);
        }
    }

    #[test]
    fn a_quote_that_never_closes_ends_the_operand_at_the_end_of_the_text() {
        // Found by fuzzing (fuzz/, target sql_placeholders): the operand's end was one byte past
        // the text, and slicing there panicked (at startup, for a tool whose SQL had such a quote).
        assert_eq!(add_escape_clauses("WHERE a LIKE :q || 'x", |_| true), "WHERE a LIKE :q || 'x ESCAPE '!'");
        let sql = "SELECT sku FROM products WHERE\u{1e}name ILIKE ' '%' ESCAPE '\u{3}' AND category LIKE :cat";
        assert_eq!(add_escape_clauses(sql, |_| true), sql);
    }

    #[test]
    fn operands_that_end_together_get_one_clause() {
        // Found by fuzzing (fuzz/, target sql_placeholders): each LIKE added its own clause at
        // the same place, `ESCAPE '!' ESCAPE '!'`, which no database accepts.
        assert_eq!(add_escape_clauses("WHERE a LIKE b LIKE :q", |_| true), "WHERE a LIKE b LIKE :q ESCAPE '!'");
    }

    #[test]
    fn values_match_themselves() {
        assert_eq!(escape("50%_off!"), "50!%!_off!!");
        assert_eq!(escape("plain"), "plain");
    }
}
